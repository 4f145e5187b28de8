// The Smart Forms page of the renderer matrix: window.smartForms.render(questionnaire,
// response) builds the form as an app embedding @aehrc/smart-forms-renderer does
// (buildForm + BaseRenderer), and window.smartForms.response() is what such an app saves
// (getResponse, then removeEmptyAnswersFromResponse, as the Smart Forms app does).
import React from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import {
  BaseRenderer,
  RendererThemeProvider,
  buildForm,
  destroyForm,
  getResponse,
  removeEmptyAnswersFromResponse,
} from '@aehrc/smart-forms-renderer';

const root = createRoot(document.getElementById('form'));
const queryClient = new QueryClient();
let current = null;

function App() {
  return (
    <RendererThemeProvider>
      <QueryClientProvider client={queryClient}>
        <BaseRenderer />
      </QueryClientProvider>
    </RendererThemeProvider>
  );
}

window.smartForms = {
  async render(questionnaire, response) {
    destroyForm();
    current = questionnaire;
    await buildForm({
      questionnaire,
      questionnaireResponse: response,
      // No terminology is needed (answerOptions are inline); never call a public server.
      terminologyServerUrl: 'http://127.0.0.1:9/fhir',
    });
    root.render(<App />);
  },
  response() {
    return removeEmptyAnswersFromResponse(current, getResponse());
  },
};
