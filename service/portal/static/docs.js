// Swagger UI on this server's openapi.yaml: an external script, as the page's
// Content-Security-Policy allows no inline one. No validator badge (it calls swagger.io).
"use strict";

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
  });
});
