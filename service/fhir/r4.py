"""FHIR R4 (4.0.1) facts, written once: formats, item types and their answers, resource types.

Everything here is read off the R4 specification (http://hl7.org/fhir/R4/); the modules
that check content and responses import it rather than restating it.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "ANSWER_TYPES",
    "ANSWER_TYPES_BY_ITEM_TYPE",
    "CODE_SYSTEM_CONTENT",
    "DATE",
    "DATE_TIME",
    "DOT_SEGMENTS",
    "ENABLE_BEHAVIORS",
    "ENABLE_OPERATORS",
    "FORMATS",
    "ID",
    "ID_PATTERN",
    "INSTANT",
    "ITEM_TYPES",
    "LITERAL_REFERENCE",
    "MAX_LENGTH_ITEM_TYPES",
    "OPTION_ITEM_TYPES",
    "OPTION_VALUE_TYPES",
    "PUBLICATION_STATUSES",
    "RESOURCE_TYPES",
    "RESPONSE_STATUSES",
    "TIME",
    "UNIT_VALUE_SETS",
]

# Formats (http://hl7.org/fhir/R4/datatypes.html#primitive): the R4 regexes, matched in full.
_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH_DAY = r"-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"
#: id: also the id part of a literal reference (`Type/id/_history/vid`).
ID_PATTERN = r"[A-Za-z0-9\-.]{1,64}"
ID = re.compile(ID_PATTERN)
#: Ids the pattern allows that are URL dot-segments (RFC 3986 5.2.4): a resource under one has
#: no URL a client can reach (`Questionnaire/../_history/1` resolves to `_history/1`).
DOT_SEGMENTS: Final = frozenset({".", ".."})
DATE = re.compile(rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?")
DATE_TIME = re.compile(
    rf"{_YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{_TIME}{_ZONE})?)?)?"
)
INSTANT = re.compile(rf"{_YEAR}{_MONTH_DAY}T{_TIME}{_ZONE}")
TIME = re.compile(_TIME)
_URI = re.compile(r"\S*")
#: The R4 regex of each string-based primitive with one.
FORMATS = {
    "id": ID,
    "code": re.compile(r"[^\s]+(\s[^\s]+)*"),
    "uri": _URI,
    "url": _URI,
    "canonical": _URI,
    "oid": re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
    "uuid": re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    "date": DATE,
    "dateTime": DATE_TIME,
    "instant": INSTANT,
    "time": TIME,
    # R4's `(\s*([0-9a-zA-Z\+/=]){4}\s*)+` backtracks badly; the alphabet, then the length.
    "base64Binary": re.compile(r"[0-9a-zA-Z+/=\s]+"),
}

#: Questionnaire.item.type (R4 item-type value set, without the abstract `question`).
ITEM_TYPES = frozenset(
    {
        "group",
        "display",
        "boolean",
        "decimal",
        "integer",
        "date",
        "dateTime",
        "time",
        "string",
        "text",
        "url",
        "choice",
        "open-choice",
        "attachment",
        "reference",
        "quantity",
    }
)
#: Questionnaire.item.enableWhen.operator (questionnaire-enable-operator) and
#: .enableBehavior (questionnaire-enable-behavior).
ENABLE_OPERATORS = frozenset({"exists", "=", "!=", ">", "<", ">=", "<="})
ENABLE_BEHAVIORS = frozenset({"all", "any"})
#: Questionnaire.status and CodeSystem.status (publication-status); CodeSystem.content.
PUBLICATION_STATUSES = frozenset({"draft", "active", "retired", "unknown"})
CODE_SYSTEM_CONTENT = frozenset({"not-present", "example", "fragment", "complete", "supplement"})
#: QuestionnaireResponse.status (questionnaire-answers-status).
RESPONSE_STATUSES = frozenset(
    {"in-progress", "completed", "amended", "entered-in-error", "stopped"}
)
#: que-5: the item types whose answers answerOption or answerValueSet may constrain.
OPTION_ITEM_TYPES = frozenset(
    {
        "choice",
        "open-choice",
        "decimal",
        "integer",
        "date",
        "dateTime",
        "time",
        "string",
        "quantity",
    }
)
#: que-10: the "simple question types" that may declare maxLength.
MAX_LENGTH_ITEM_TYPES = frozenset(
    {"boolean", "decimal", "integer", "string", "text", "url", "open-choice"}
)
#: Questionnaire.item.answerOption.value[x].
OPTION_VALUE_TYPES = ("Coding", "Integer", "Date", "Time", "String", "Reference")
#: QuestionnaireResponse.item.answer.value[x].
ANSWER_TYPES = frozenset(
    {
        "Boolean",
        "Decimal",
        "Integer",
        "Date",
        "DateTime",
        "Time",
        "String",
        "Uri",
        "Attachment",
        "Coding",
        "Quantity",
        "Reference",
    }
)
#: The value[x] each item type takes (R4 Questionnaire item type / answer type table); the
#: choice types take their options' types.
ANSWER_TYPES_BY_ITEM_TYPE = {
    "boolean": frozenset({"Boolean"}),
    "decimal": frozenset({"Decimal"}),
    "integer": frozenset({"Integer"}),
    "date": frozenset({"Date"}),
    "dateTime": frozenset({"DateTime"}),
    "time": frozenset({"Time"}),
    "string": frozenset({"String"}),
    "text": frozenset({"String"}),
    "url": frozenset({"Uri"}),
    "attachment": frozenset({"Attachment"}),
    "reference": frozenset({"Reference"}),
    "quantity": frozenset({"Quantity"}),
}

#: Resource types of FHIR R4 (4.0.1).
RESOURCE_TYPES = frozenset(
    # 146 names read better as text than as a 146-line list literal
    """Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
    AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle
    CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim
    ClaimResponse ClinicalImpression CodeSystem Communication CommunicationRequest
    CompartmentDefinition Composition ConceptMap Condition Consent Contract Coverage
    CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device DeviceDefinition
    DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest
    DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest
    EnrollmentResponse EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario
    ExplanationOfBenefit FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse
    HealthcareService ImagingStudy Immunization ImmunizationEvaluation
    ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice Library Linkage List
    Location Measure MeasureReport Media Medication MedicationAdministration MedicationDispense
    MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
    MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
    MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
    MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
    ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis
    Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition
    StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein
    SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification SupplyDelivery
    SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet VerificationResult
    VisionPrescription""".split()  # noqa: SIM905
)

#: A literal Reference.reference, relative `Type/id` or absolute `http(s)://base/Type/id`,
#: either with `/_history/version` (http://hl7.org/fhir/R4/references.html#literal:
#: `((http|https)://([A-Za-z0-9\-\\\.\:\%\$]*\/)+)?(Type)\/[A-Za-z0-9\-\.]{1,64}(\/_history\/...)?`);
#: group 1 is the Type, to be looked up in RESOURCE_TYPES.
LITERAL_REFERENCE = re.compile(
    rf"(?:https?://(?:[A-Za-z0-9\-\\.:%$]*/)+)?([A-Za-z]+)/{ID_PATTERN}(?:/_history/{ID_PATTERN})?"
)

#: Small R4 unit value sets (their compose.include concepts, all UCUM), by canonical URL.
UNIT_VALUE_SETS = {
    # http://hl7.org/fhir/R4/valueset-ucum-bodyweight.html (Body Weight Units)
    "http://hl7.org/fhir/ValueSet/ucum-bodyweight": ("kg", "[lb_av]", "g"),
    # http://hl7.org/fhir/R4/valueset-ucum-bodytemp.html (Body Temperature Units)
    "http://hl7.org/fhir/ValueSet/ucum-bodytemp": ("Cel", "[degF]"),
}
