"""The mapping file: which contacts are researched, what is sent to Saber, what is asked, and
which HubSpot properties the answers land in (with which write policy).

Public API used by the sync and the CLI::

    load_mapping(path) -> Mapping                        # raises ConfigError (file:line: key: found/allowed)
    build_inputs(mapping, properties) -> InputsResult     # Saber inputs or a skip reason
    signals_to_ask(mapping, research, inputs) -> (asks, reasons)
    map_values(mapping, research, signal_answers) -> {property: PropertyValue}
    canonical_value(mapping, property, current) -> str | None
    value_hash(value) / should_write(policy, new, current, last_written_hash)
    mapping_json_schema() / explain_mapping(mapping) / enumeration_option_problems(mapping, options)
    packaged_mapping() -> Path                            # the default mapping shipped in the package
"""

from __future__ import annotations

from connector.mapping.convert import ConversionError, canonical, canonical_value, to_hubspot
from connector.mapping.describe import enumeration_option_problems, explain_mapping, mapping_json_schema
from connector.mapping.inputs import InputsResult, build_inputs, fingerprint
from connector.mapping.loader import load_mapping, packaged_mapping, parse_mapping
from connector.mapping.model import (
    ANSWER_TYPES,
    INPUT_FIELDS,
    OPERATORS,
    PROPERTY_TYPES,
    REQUIRED_INPUTS,
    WRITE_POLICIES,
    FilterSpec,
    HubspotGroup,
    Inputs,
    InputSpec,
    Mapping,
    PropertySpec,
    Select,
    SignalSpec,
)
from connector.mapping.policy import WriteDecision, edited_by_person, should_write, value_hash, write_decision
from connector.mapping.values import PropertyValue, SignalAsk, map_values, signals_to_ask

__all__ = [
    "WriteDecision",
    "write_decision",
    "ANSWER_TYPES",
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
    "Mapping",
    "PropertySpec",
    "PropertyValue",
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
