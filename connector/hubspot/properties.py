"""HubSpot property definitions and property groups, of contacts or (when told) companies.

What `setup`, `check` and the preflight read and create. Creating is idempotent where
`setup` needs it to be: a group that exists is reported, not an error, and a 409 HubSpot
answers for an existing property is expected (logged at debug, not info).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hubspot.crm.properties as hs_properties

from connector.hubspot.errors import HubSpotError
from connector.hubspot.records import PropertyInfo, PropertySpec, property_info
from connector.hubspot.transport import HubSpotTransport, is_conflict
from connector.logs import get_logger

log = get_logger("hubspot")
OBJECT_TYPE = "contacts"


class PropertyApi:
    """Properties and groups of one portal; `object_type` is contacts unless told."""

    def __init__(self, transport: HubSpotTransport) -> None:
        self._transport = transport
        self._core = transport.api(transport.client.crm.properties.core_api)
        self._groups = transport.api(transport.client.crm.properties.groups_api)

    def get_all(self, object_type: str = OBJECT_TYPE) -> dict[str, PropertyInfo]:
        """Every property of the portal for one object type (contacts unless told), by name."""
        answer = self._transport.call(
            "get_properties",
            lambda: self._core.get_all(
                object_type=object_type, archived=False, _request_timeout=self._transport.timeout
            ),
        )
        return {p.name: property_info(p) for p in answer.results or []}

    def get(self, name: str, object_type: str = OBJECT_TYPE) -> PropertyInfo | None:
        """One property (of contacts unless told), or None when the portal has none of that name."""
        try:
            answer = self._read(name, object_type)
        except HubSpotError as exc:
            if exc.status == 404:
                return None
            raise
        return property_info(answer)

    def ensure_group(self, name: str, label: str, object_type: str = OBJECT_TYPE) -> bool:
        """Create the property group (of contacts unless told); True if created, False if it existed."""
        body = hs_properties.PropertyGroupCreate(name=name, label=label, display_order=-1)
        try:
            self._transport.call(
                "create_group",
                lambda: self._groups.create(
                    object_type=object_type,
                    property_group_create=body,
                    _request_timeout=self._transport.timeout,
                ),
                expected=is_conflict,
            )
        except HubSpotError as exc:
            if exc.status == 409:
                return False
            raise
        log.debug("hubspot_group_created", group=name)
        return True

    def create(self, spec: PropertySpec, object_type: str = OBJECT_TYPE) -> PropertyInfo:
        """Create a property (of contacts unless told); raises HubSpotError(status=409) when it exists."""
        options = [
            hs_properties.OptionInput(label=label, value=value, display_order=i, hidden=False)
            for i, (label, value) in enumerate(spec.options)
        ]
        body = hs_properties.PropertyCreate(
            name=spec.name,
            label=spec.label,
            type=spec.type,
            field_type=spec.field_type,
            group_name=spec.group_name,
            description=spec.description,
            options=options,
        )
        answer = self._transport.call(
            "create_property",
            lambda: self._core.create(
                object_type=object_type, property_create=body, _request_timeout=self._transport.timeout
            ),
            expected=is_conflict,
        )
        log.debug("hubspot_property_created", property=spec.name, type=spec.type, field_type=spec.field_type)
        return property_info(answer)

    def add_options(
        self, name: str, options: Sequence[tuple[str, str]], object_type: str = OBJECT_TYPE
    ) -> tuple[PropertyInfo, list[str]]:
        """Add (label, value) options an enumeration property lacks; its own options are kept as they are.

        HubSpot's `PATCH /crm/v3/properties/contacts/{propertyName}` replaces `options` with
        the list it is given, so the property is read first and sent back whole, the new
        options appended. Returns the property as HubSpot now has it and the values added
        (none, and no PATCH, when it already had them all). Raises HubSpotError (404) for
        a property the portal does not have.
        """
        current = self._read(name, object_type)
        kept = [
            hs_properties.OptionInput(
                label=o.label,
                value=o.value,
                display_order=o.display_order if o.display_order is not None else i,
                hidden=bool(o.hidden),
                description=o.description,
            )
            for i, o in enumerate(current.options or [])
        ]
        have = {o.value for o in kept}
        new: list[tuple[str, str]] = []
        for label, value in options:
            if value not in have:
                have.add(value)
                new.append((label, value))
        if not new:
            return property_info(current), []
        start = max([o.display_order for o in kept] + [-1]) + 1  # after the last one shown
        body = hs_properties.PropertyUpdate(
            options=[
                *kept,
                *(
                    hs_properties.OptionInput(label=label, value=value, display_order=start + i, hidden=False)
                    for i, (label, value) in enumerate(new)
                ),
            ]
        )
        answer = self._transport.call(
            "update_property",
            lambda: self._core.update(
                object_type=object_type,
                property_name=name,
                property_update=body,
                _request_timeout=self._transport.timeout,
            ),
        )
        values = [value for _, value in new]
        log.debug("hubspot_property_options_added", property=name, options=values)
        return property_info(answer), values

    def _read(self, name: str, object_type: str) -> Any:
        """`GET /crm/v3/properties/{object_type}/{name}`, as the client's model."""
        return self._transport.call(
            "get_property",
            lambda: self._core.get_by_name(
                object_type=object_type,
                property_name=name,
                archived=False,
                _request_timeout=self._transport.timeout,
            ),
        )
