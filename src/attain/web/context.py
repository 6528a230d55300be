"""Template context shared by every page: the navigation for the signed-in user's role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from attain.web.viewer import viewer_of


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    url: str
    active: bool


def nav_items(request: HttpRequest) -> list[NavItem]:
    """The links the viewer's role may use, the current page marked active."""
    viewer = viewer_of(request)
    if viewer is None:
        return []
    links: list[tuple[str, str]] = [("Home", reverse("home"))]
    if viewer.person_id is not None and not viewer.is_company_wide:
        links.append(("My page", reverse("person", args=[viewer.person_id])))
    links.append(("Performance", reverse("performance-attainment")))
    links.append(("Pipeline", reverse("pipeline")))
    links.append(("Forecast", reverse("forecast")))
    links.append(("Compensation", reverse("comp")))
    links.append(("Opportunities", reverse("opportunities")))
    links.append(("Bookings", reverse("bookings")))
    if viewer.is_ops:
        links.append(("Data quality", reverse("quality")))
    if viewer.is_ops:
        links.append(("Imports", reverse("imports")))
    if viewer.can_use_admin:
        links.append(("Admin", reverse("admin:index")))
    path = request.path
    home = reverse("home")
    return [
        NavItem(label, url, path == url if url == home else path.startswith(url))
        for label, url in links
    ]


def navigation(request: HttpRequest) -> dict[str, Any]:
    return {"viewer": viewer_of(request), "nav_items": nav_items(request)}
