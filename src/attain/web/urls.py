"""URLs of the web shell: sign-in, the role home pages and the record pages behind every figure."""

from django.contrib.auth import views as auth_views
from django.urls import path

from attain.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("people/<int:person_id>/", views.person, name="person"),
    path("attainment/", views.attainment, name="attainment"),
    path("opportunities/", views.opportunity_list, name="opportunities"),
    path("opportunities/<int:opportunity_id>/", views.opportunity_detail, name="opportunity"),
    path("bookings/", views.booking_list, name="bookings"),
    path("runs/bookings/", views.run_bookings, name="run-bookings"),
    path("runs/bookings/freshness/", views.bookings_freshness, name="bookings-freshness"),
]
