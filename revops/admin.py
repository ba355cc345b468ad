"""The Django admin, opened to ops staff through the same permission table as every page."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator

from revops.permissions import can


class RevopsAdminSite(admin.AdminSite):
    site_header = "RevOps source of truth — admin"
    site_title = "RevOps admin"
    index_title = "Tables"

    def has_permission(self, request: HttpRequest) -> bool:
        return can(request.user, "admin.use")

    @method_decorator(login_not_required)
    def login(self, request: HttpRequest, extra_context=None):
        # One login page for the whole app; the admin's own one would demand is_staff.
        target = request.GET.get("next", reverse("admin:index"))
        if self.has_permission(request):
            return redirect(reverse("admin:index"))
        if request.user.is_authenticated:
            # Signed in without the right: the sign-in page would send them straight back here.
            return render(request, "403.html", status=403)
        return redirect_to_login(target)
