"""Rapport: a FHIR R4 service that publishes, validates and scores alliance instruments."""
