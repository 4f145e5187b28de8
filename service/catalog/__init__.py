"""Where Questionnaires and CodeSystems come from, checked once at load.

`load_catalog` reads the shipped `questionnaires/` folder and any site folders,
applies every content rule (R4 model, que-1 … que-13, enableWhen, FHIRPath,
identity) and returns a read-only `Catalog`; a bad file raises `CatalogError`
listing every issue with file, linkId, path and rule.
"""

from __future__ import annotations

from service.questionnaire.checks import CATALOGUE_TYPES, Compiler, check_resource
from service.questionnaire.checks.expressions import expression_warnings
from service.questionnaire.issues import CatalogError, describe

from ._catalog import Catalog, version_key
from ._entry import Entry, SearchKeys, content_hash, fold
from ._loader import load_catalog, resource_files
from .interfaces import CatalogReader, SiteCatalogue, SiteStore, Version

__all__ = [
    "CATALOGUE_TYPES",
    "Catalog",
    "CatalogError",
    "CatalogReader",
    "Compiler",
    "Entry",
    "SearchKeys",
    "SiteCatalogue",
    "SiteStore",
    "Version",
    "check_resource",
    "content_hash",
    "describe",
    "expression_warnings",
    "fold",
    "load_catalog",
    "resource_files",
    "version_key",
]
