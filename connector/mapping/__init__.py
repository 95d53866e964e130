"""The mapping file: which contacts are researched, what is sent to Saber, what is asked, and
which HubSpot properties the answers land in (with which write policy).

Public API used by the sync and the CLI::

    load_mapping(path) -> Mapping                        # raises ConfigError (file:line: key: found/allowed)
    build_inputs(mapping, properties) -> InputsResult     # Saber inputs or a skip reason
    signals_to_ask(mapping, research, inputs) -> (asks, reasons)
    map_values(mapping, research, signal_answers) -> {property: PropertyValue}
    map_company_values(mapping, company_answers, research=None) -> {company property: PropertyValue}
    map_subscription_values(mapping, subscription, log_entry) -> {company property: PropertyValue}
    held_back(values) -> [property]                      # answers kept out for low confidence
    mapping.companies / company_specs() / company_spec(name) / subscriptions() / threshold(spec)
    mapping.company_property_definitions() -> [PropertyDefinition]   # what `setup` creates on companies
    mapping.prospecting: Prospecting | None              # accounts, search, limits, contact (+ its views)
    mapping.prospecting_property_definitions() -> [PropertyDefinition]  # what `prospecting.contact` writes
    mapping.linkedin: LinkedIn | None                    # jobs, contact, scans (+ their views)
    mapping.linkedin_property_definitions() -> [PropertyDefinition]  # what `linkedin.contact` and scans write
    scan_value(scan_property, raw) -> str | None         # a prospect's result value, as HubSpot takes it
    mapping.cycle_dump()                                 # what the sync fingerprints (no linkedin etc.)
    canonical_value(mapping, property, current) -> str | None
    canonical_company_value(mapping, company property, current) -> str | None
    value_hash(value) / should_write(policy, new, current, last_written_hash)
    mapping_json_schema() / explain_mapping(mapping) / enumeration_option_problems(mapping, options)
    packaged_mapping() -> Path                            # the default mapping shipped in the package
"""

from __future__ import annotations

from connector.mapping.convert import ConversionError, canonical, to_hubspot
from connector.mapping.describe import enumeration_option_problems, explain_mapping, mapping_json_schema
from connector.mapping.inputs import InputsResult, build_inputs, fingerprint
from connector.mapping.linkedin import LinkedIn, LinkedInJob, LinkedInScan, LinkedInSource
from connector.mapping.linkedin_results import ScanPath, ScanProperty, parse_scan_path, scan_value
from connector.mapping.loader import load_mapping, packaged_mapping, parse_mapping
from connector.mapping.model import (
    ANSWER_TYPES,
    COMPANY_MATCH_PROPERTY,
    COMPANY_MATCHES,
    INPUT_FIELDS,
    OPERATORS,
    PROPERTY_TYPES,
    REQUIRED_INPUTS,
    WRITE_POLICIES,
    AnyPropertySpec,
    Companies,
    CompanyPropertySpec,
    FilterSpec,
    HubspotGroup,
    Inputs,
    InputSpec,
    Mapping,
    PropertyDefinition,
    PropertySpec,
    Prospecting,
    Select,
    SignalSpec,
    SubscriptionPropertySpec,
    SubscriptionSpec,
    canonical_company_value,
    canonical_value,
)
from connector.mapping.policy import WriteDecision, edited_by_person, should_write, value_hash, write_decision
from connector.mapping.values import (
    PropertyValue,
    SignalAsk,
    confidence_shortfall,
    held_back,
    map_company_values,
    map_subscription_values,
    map_values,
    signals_to_ask,
)

__all__ = [
    "WriteDecision",
    "write_decision",
    "ANSWER_TYPES",
    "COMPANY_MATCHES",
    "COMPANY_MATCH_PROPERTY",
    "AnyPropertySpec",
    "Companies",
    "CompanyPropertySpec",
    "SubscriptionPropertySpec",
    "SubscriptionSpec",
    "canonical_company_value",
    "confidence_shortfall",
    "held_back",
    "map_company_values",
    "map_subscription_values",
    "INPUT_FIELDS",
    "OPERATORS",
    "PROPERTY_TYPES",
    "REQUIRED_INPUTS",
    "WRITE_POLICIES",
    "ConversionError",
    "FilterSpec",
    "HubspotGroup",
    "InputSpec",
    "Inputs",
    "InputsResult",
    "LinkedIn",
    "LinkedInJob",
    "LinkedInScan",
    "LinkedInSource",
    "ScanPath",
    "ScanProperty",
    "parse_scan_path",
    "scan_value",
    "Mapping",
    "PropertyDefinition",
    "PropertySpec",
    "PropertyValue",
    "Prospecting",
    "Select",
    "SignalAsk",
    "SignalSpec",
    "build_inputs",
    "canonical",
    "canonical_value",
    "edited_by_person",
    "enumeration_option_problems",
    "explain_mapping",
    "fingerprint",
    "load_mapping",
    "map_values",
    "packaged_mapping",
    "mapping_json_schema",
    "parse_mapping",
    "should_write",
    "signals_to_ask",
    "to_hubspot",
    "value_hash",
]
