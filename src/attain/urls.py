"""URL map: pages, admin, API."""

from django.contrib import admin
from django.urls import include, path

from attain.api.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include("attain.web.urls")),
]
