"""Compensation pages: the overview, plans (list, editor with live preview, readable document
and PDF), assignments and acceptance, runs (start with progress, approve, close, diff), statements
(page, CSV, PDF), disputes, manual lines (SPIFF/MBO/adjustments) and the payroll export.

Views parse the request, read through `attain.compensation.queries` (visibility scoped: a rep
sees only their own pay, a manager their subtree, ops/finance/executives everyone; what a viewer
may not see is a 404) and write only through `attain.compensation.actions`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from attain.compensation import actions, engine_io
from attain.compensation import queries as cq
from attain.compensation.models import CompRun, Dispute, ManualLine, PlanVersion
from attain.core.models import CalcRun, Period
from attain.people import queries as people_queries
from attain.web import charts
from attain.web.compensation_pdf import Document
from attain.web.exports import csv_url, export_response, wants_export
from attain.web.viewer import Viewer, viewer_of

PAYOUT_LABELS = (
    ("earned", "Earned this period"), ("payable_earnings", "Earnings paid now"),
    ("deferred", "Earned, paid on a later event"), ("forfeited", "Forfeited (cancelled)"),
    ("adjustments", "Prior-period adjustments"), ("clawbacks", "Clawed back"),
    ("owed_recovered", "Recovered (clawbacks owed)"), ("draw_recovered", "Draw repaid"),
    ("draw_paid", "Draw paid"), ("guarantee_paid", "Guarantee top-up"),
    ("carried_forward", "Carried forward (owed)"), ("payout", "Payout"))

PLAN_TEMPLATE = """plan: New plan
currency: USD
period: quarter
components:
  - name: Commission
    kind: commission
    rate: "8%"
"""


def today() -> date:
    return timezone.localdate()


def _viewer(request: HttpRequest) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None
    return viewer


def _int(value: Any) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() else None


def _require_ops(viewer: Viewer) -> None:
    if not viewer.is_ops:
        raise PermissionDenied("Only sales operations may do this.")


def _refused(request: HttpRequest, error: actions.CompensationError, back: str) -> HttpResponse:
    messages.error(request, f"Not saved — {error.field or 'request'}: {error}")
    return HttpResponseRedirect(back)


STATEMENT_PAGE_SIZE = 200  # lines of each table of a statement page
RUN_PAGE_SIZE = 100  # payouts of a run page


def trace_steps(trace: Any) -> list[str]:
    """A line's trace as plain sentences, in order (steps are text or {label, text} maps)."""
    steps = []
    for step in trace or []:
        if isinstance(step, dict):
            text = step.get("text") or step.get("explanation") or step.get("description")
            label = step.get("step") or step.get("label") or ""
            if text is None:
                text = ", ".join(f"{k}: {v}" for k, v in step.items() if k != "step")
            steps.append(f"{label}: {text}" if label else str(text))
        else:
            steps.append(str(step))
    return steps


# --- overview -----------------------------------------------------------------------------------


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    viewer, day = _viewer(request), today()
    user = viewer.user
    mine = cq.current_assignment(viewer.person_id, day) if viewer.person_id else None
    latest_period_runs = []
    for period in cq.periods_with_runs()[:6]:
        shown = cq.statement_run(period)
        if shown is not None:
            latest_period_runs.append((period, shown))
    my_statements = []
    if viewer.person_id is not None:
        for period, shown in latest_period_runs:
            payout = shown.payouts.filter(person_id=viewer.person_id).first()
            if payout is not None:
                my_statements.append((period, shown, payout))
    chart = None
    if my_statements:
        ordered = list(reversed(my_statements))
        chart = charts.bar_chart([p.label for p, _, _ in ordered], [
            ("Payout", [pay.payout for _, _, pay in ordered],
             [reverse("comp-statement", args=[r.pk, viewer.person_id]) for _, r, _ in ordered])])
    return render(request, "web/compensation/overview.html", {
        "my_assignment": mine,
        "my_accepted": bool(mine) and cq.acceptances(user, mine.version_id).get(
            viewer.person_id) is not None if mine else False,
        "my_statements": my_statements, "chart": chart,
        "so_far": cq.earnings_so_far(viewer.person_id, day) if viewer.person_id else None,
        "period_runs": latest_period_runs,
        "pending_acceptances": cq.pending_acceptances(user, day)[:50]
        if not viewer.is_rep else [],
        "open_disputes": cq.disputes(user, status=Dispute.Status.OPEN)[:20],
        "accrual": cq.accrual(user, day) if viewer.is_company_wide else [],
    })


# --- plans --------------------------------------------------------------------------------------


@login_required
def plan_list(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    return render(request, "web/compensation/plans.html", {
        "plans": cq.plans(viewer.user), "can_edit": viewer.is_ops})


def _preview(text: str, *, with_example: bool = False) -> dict[str, Any]:
    """Problems of the plan text, or the plan read back; the worked example (a run of the
    engine, seconds) only when asked for."""
    checked = engine_io.check_plan(text)
    example = None
    if checked.plan is not None and with_example:
        example = engine_io.worked_example(checked.plan)
    return {"problems": checked.problems, "plan": checked.plan, "example": example,
            "offer_example": checked.plan is not None and example is None}


@login_required
def plan_new(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    _require_ops(viewer)
    form = {"name": "", "text": PLAN_TEMPLATE, "effective_from": today().replace(day=1),
            "effective_to": "", "description": ""}
    context: dict[str, Any] = {"form": form, "version": None}
    if request.method == "POST":
        data = request.POST
        form = {k: data.get(k, "") for k in form}
        try:
            version = actions.create_plan(
                request.user, name=form["name"], text=form["text"],
                effective_from=form["effective_from"], effective_to=form["effective_to"] or None,
                description=form["description"])
        except actions.CompensationError as error:
            context.update({"form": form, "error": error, **_preview(form["text"])})
            return render(request, "web/compensation/plan_editor.html", context, status=400)
        messages.success(request, f"Plan {version.plan.name} created as draft v1.")
        return HttpResponseRedirect(reverse("comp-version-edit", args=[version.pk]))
    return render(request, "web/compensation/plan_editor.html", context)


def _version(request: HttpRequest, version_id: int) -> PlanVersion:
    version = cq.version(_viewer(request).user, version_id)
    if version is None:
        raise Http404("No such plan version.")
    return version


@login_required
def version_edit(request: HttpRequest, version_id: int) -> HttpResponse:
    viewer = _viewer(request)
    _require_ops(viewer)
    version = _version(request, version_id)
    form = {"name": version.plan.name, "text": version.text,
            "effective_from": version.effective_from, "effective_to": version.effective_to or "",
            "description": version.plan.description}
    context: dict[str, Any] = {"form": form, "version": version}
    if request.method == "POST":
        form = {**form, **{k: request.POST.get(k, "") for k in
                           ("text", "effective_from", "effective_to")}}
        try:
            actions.save_draft(request.user, version.pk, text=form["text"],
                               effective_from=form["effective_from"],
                               effective_to=form["effective_to"] or None)
        except actions.CompensationError as error:
            context.update({"form": form, "error": error, **_preview(form["text"])})
            return render(request, "web/compensation/plan_editor.html", context, status=400)
        messages.success(request, f"Draft v{version.number} saved.")
        return HttpResponseRedirect(reverse("comp-version-edit", args=[version.pk]))
    if version.is_editable:
        context.update(_preview(version.text))
        context["example"] = version.example
    return render(request, "web/compensation/plan_editor.html", context)


@login_required
@require_POST
def plan_preview(request: HttpRequest) -> HttpResponse:
    """The editor's live preview (HTMX): problems with their paths, or the plan read back and a
    worked example computed by the engine. Writes nothing."""
    _require_ops(_viewer(request))
    return render(request, "web/compensation/_preview.html",
                  _preview(request.POST.get("text", ""),
                           with_example=request.POST.get("example") == "1"))


@login_required
@require_POST
def version_publish(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version(request, version_id)
    try:
        actions.publish_version(request.user, version.pk)
    except actions.CompensationError as error:
        return _refused(request, error, reverse("comp-version-edit", args=[version.pk]))
    messages.success(request, f"{version.plan.name} v{version.number} published.")
    return HttpResponseRedirect(reverse("comp-version", args=[version.pk]))


@login_required
@require_POST
def plan_new_version(request: HttpRequest, plan_id: int) -> HttpResponse:
    try:
        version = actions.new_version(request.user, plan_id,
                                      effective_from=request.POST.get("effective_from") or None)
    except actions.CompensationError as error:
        return _refused(request, error, reverse("comp-plans"))
    return HttpResponseRedirect(reverse("comp-version-edit", args=[version.pk]))


def _document_context(request: HttpRequest, version: PlanVersion) -> dict[str, Any]:
    viewer = _viewer(request)
    plan = engine_io.parse(version.text, version.plan.name)
    assigned = (viewer.person_id is not None and cq.assignments(
        viewer.user, today(), version_id=version.pk, person_id=viewer.person_id).exists())
    return {
        "version": version, "plan": plan, "document": engine_io.plan_document(plan),
        "example": version.example,
        "versions": version.plan.versions.order_by("-number"),
        "assigned": assigned,
        "accepted_at": cq.acceptances(viewer.user, version.pk).get(viewer.person_id)
        if viewer.person_id else None,
    }


@login_required
def version_document(request: HttpRequest, version_id: int) -> HttpResponse:
    """The readable plan document of a version, generated from its definition."""
    version = _version(request, version_id)
    return render(request, "web/compensation/plan_document.html",
                  _document_context(request, version))


@login_required
def version_pdf(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version(request, version_id)
    context = _document_context(request, version)
    doc = Document(f"{version.plan.name} — version {version.number}")
    doc.pairs([("Status", version.get_status_display()),
               ("In force", f"{version.effective_from} to "
                            f"{version.effective_to or 'open-ended'} (excluded)")])
    for section in context["document"]:
        doc.heading(section["title"])
        for paragraph in section["paragraphs"]:
            doc.paragraph(paragraph)
    example = context["example"]
    if example is not None:
        doc.heading("Worked example (computed by the engine)")
        doc.paragraph(example["setting"])
        doc.table(["Component", "Line", "Amount", "How"],
                  [(row["component"], row["line_kind"], f"{Decimal(row['amount']):,.2f}",
                    " ".join(row["trace"])) for row in example["lines"]],
                  widths=(35, 25, 25, 105), numeric=(2,))
        doc.paragraph(f"Payout: {Decimal(example['total']):,.2f} {example['currency']}")
    if version.changes:
        doc.heading("Changes from the previous version")
        for change in version.changes:
            doc.paragraph(f"• {change}")
    doc.heading("Plan definition")
    doc.preformatted(version.text)
    return _pdf(doc, f"plan-{version.plan.name}-v{version.number}")


def _pdf(doc: Document, name: str) -> HttpResponse:
    response = HttpResponse(doc.output(), content_type="application/pdf")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
    response["Content-Disposition"] = f'attachment; filename="{safe}.pdf"'
    return response


@login_required
@require_POST
def version_example(request: HttpRequest, version_id: int) -> HttpResponse:
    """Ops: compute and store the worked example of a version (a run of the engine)."""
    version = _version(request, version_id)
    try:
        actions.compute_example(request.user, version.pk)
    except actions.CompensationError as error:
        return _refused(request, error, reverse("comp-version", args=[version.pk]))
    messages.success(request, "Worked example computed.")
    return HttpResponseRedirect(reverse("comp-version", args=[version.pk]))


@login_required
@require_POST
def version_accept(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _version(request, version_id)
    try:
        actions.accept_plan(request.user, version.pk)
    except actions.CompensationError as error:
        return _refused(request, error, reverse("comp-version", args=[version.pk]))
    messages.success(request, f"You accepted {version.plan.name} v{version.number}.")
    return HttpResponseRedirect(reverse("comp-version", args=[version.pk]))


# --- assignments --------------------------------------------------------------------------------


@login_required
def assignment_list(request: HttpRequest) -> HttpResponseBase:
    viewer, day = _viewer(request), today()
    version_id = _int(request.GET.get("version"))
    rows = cq.assignments(viewer.user, day, version_id=version_id)
    if request.GET.get("pending") == "1":
        rows = cq.pending_acceptances(viewer.user, day)
    if wants_export(request):
        return export_response(request, "plan-assignments", [
            "person", "employee_id", "plan", "version", "valid_from", "valid_to",
            "target_incentive", "currency", "accepted"], [
            (a.person.name, a.person.external_id, a.version.plan.name, a.version.number,
             a.valid_from, a.valid_to or "", a.target_incentive, a.currency,
             "yes" if a.accepted else "no") for a in rows])
    if request.method == "POST" and request.POST.get("end_assignment"):
        _require_ops(viewer)
        try:
            ended = actions.end_assignment(request.user, _int(request.POST["end_assignment"]),
                                           valid_to=request.POST.get("valid_to", ""))
        except actions.CompensationError as error:
            return _refused(request, error, reverse("comp-assignments"))
        messages.success(request, f"{ended.person.name}'s assignment ends on {ended.valid_to}.")
        return HttpResponseRedirect(reverse("comp-assignments"))
    if request.method == "POST":
        _require_ops(viewer)
        data = request.POST
        try:
            assignment = actions.assign_plan(
                request.user, person_id=data.get("person_id"), version_id=data.get("version_id"),
                valid_from=data.get("valid_from"), valid_to=data.get("valid_to") or None,
                target_incentive=data.get("target_incentive"),
                currency=data.get("currency") or None)
        except actions.CompensationError as error:
            return _refused(request, error, reverse("comp-assignments"))
        messages.success(request, f"{assignment.person.name} assigned to "
                                  f"{assignment.version}.")
        return HttpResponseRedirect(reverse("comp-assignments"))
    published = PlanVersion.objects.filter(status=PlanVersion.Status.PUBLISHED).select_related(
        "plan") if viewer.is_ops else []
    return render(request, "web/compensation/assignments.html", {
        "rows": rows, "csv_url": csv_url(request), "can_edit": viewer.is_ops,
        "people": people_queries.people(viewer.user, day) if viewer.is_ops else [],
        "published": published, "version_id": version_id,
        "pending_only": request.GET.get("pending") == "1"})


# --- runs ---------------------------------------------------------------------------------------


def _run(request: HttpRequest, run_id: int) -> CompRun:
    run = cq.run(run_id)
    if run is None:
        raise Http404("No such compensation run.")
    return run


@login_required
def run_list(request: HttpRequest) -> HttpResponse:
    viewer = _viewer(request)
    if viewer.is_rep:
        raise PermissionDenied("Runs are for sales operations, finance and managers.")
    if request.method == "POST":
        _require_ops(viewer)
        try:
            calc = actions.request_run(request.user, period_id=request.POST.get("period_id"),
                                       as_of=request.POST.get("as_of") or None)
        except actions.CompensationError as error:
            return _refused(request, error, reverse("comp-runs"))
        messages.success(request, f"Compensation run #{calc.pk} queued.")
        return HttpResponseRedirect(reverse("comp-runs"))
    day = today()
    periods = Period.objects.filter(kind__in=["month", "quarter"], start__lte=day).order_by(
        "-start")[:12]
    return render(request, "web/compensation/runs.html", {
        "runs": cq.runs()[:100], "pending": cq.pending_runs(), "periods": periods,
        "can_run": viewer.is_ops, "failed": CalcRun.objects.filter(
            kind=engine_io.COMP_RUN_KIND, status=CalcRun.Status.FAILED).order_by(
            "-created_at")[:5]})


@login_required
def run_progress(request: HttpRequest) -> HttpResponse:
    """The progress line of queued and running runs (polled by HTMX)."""
    return render(request, "web/compensation/_progress.html", {"pending": cq.pending_runs()})


RUN_SORTS = {"person": ("Person, A to Z", "person__name"),
             "-person": ("Person, Z to A", "-person__name"),
             "-payout": ("Payout, largest first", "-payout"),
             "payout": ("Payout, smallest first", "payout"),
             "-earned": ("Earned, largest first", "-earned"),
             "-deferred": ("Deferred, largest first", "-deferred")}
"""How the run page may order its payouts (`?sort=…`): label, ordering."""


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponseBase:
    viewer = _viewer(request)
    run = _run(request, run_id)
    if viewer.is_rep:
        if viewer.person_id is None:
            raise Http404
        return HttpResponseRedirect(reverse("comp-statement", args=[run.pk, viewer.person_id]))
    payouts = cq.payouts(viewer.user, run)
    search = request.GET.get("q", "").strip()
    if search:
        payouts = payouts.filter(person__name__icontains=search)
    order = request.GET.get("sort", "person")
    if order not in RUN_SORTS:
        order = "person"
    # the whole run in that order, a page being a slice of it; name and currency break ties
    payouts = payouts.order_by(RUN_SORTS[order][1], "person__name", "currency")
    if wants_export(request):
        return export_response(request, f"comp-run-{run.pk}", [
            "person", "employee_id", "currency", *engine_io.PAYOUT_FIELDS], [
            (p.person.name, p.person.external_id, p.currency,
             *(getattr(p, name) for name in engine_io.PAYOUT_FIELDS)) for p in payouts])
    # a page of the payouts (a 10,000-person run was a 4 MB table); the chart, the search and
    # the export cover every payout the viewer may see
    page = Paginator(payouts, RUN_PAGE_SIZE).get_page(request.GET.get("page"))
    top = list(payouts.order_by("-payout", "person__name")[:15])
    chart = charts.bar_chart([p.person.name for p in top], [
        ("Payout", [p.payout for p in top],
         [reverse("comp-statement", args=[run.pk, p.person_id]) for p in top])]) if top else None
    return render(request, "web/compensation/run_detail.html", {
        "run": run, "page": page, "search": search, "chart": chart,
        "sorts": [(key, label) for key, (label, _) in RUN_SORTS.items()], "order": order,
        "csv_url": csv_url(request),
        "closed": cq.period_is_closed(run.period), "exports": cq.exports(run),
        "prior_adjustments": cq.prior_adjustments(viewer.user, run),
        "other_runs": cq.runs(period_id=run.period_id).exclude(pk=run.pk),
        "open_disputes": cq.disputes(viewer.user, status=Dispute.Status.OPEN, run_id=run.pk),
        "can_submit": viewer.is_ops and run.approval in (CompRun.Approval.DRAFT,
                                                          CompRun.Approval.REJECTED)
        and run.calc_run.status == CalcRun.Status.SUCCEEDED,
        "can_decide": viewer.is_finance and run.approval == CompRun.Approval.SUBMITTED,
        "can_close": (viewer.is_ops or viewer.is_finance) and not run.is_adjustment
        and run.approval == CompRun.Approval.APPROVED and not cq.period_is_closed(run.period),
        "can_export": (viewer.is_ops or viewer.is_finance)
        and run.approval == CompRun.Approval.APPROVED})


@login_required
@require_POST
def run_action(request: HttpRequest, run_id: int, action: str) -> HttpResponse:
    run = _run(request, run_id)
    back = reverse("comp-run", args=[run.pk])
    try:
        if action == "submit":
            actions.submit_run(request.user, run.pk)
            messages.success(request, f"Run #{run.pk} submitted to finance.")
        elif action == "approve":
            actions.decide_run(request.user, run.pk, approve=True,
                               note=request.POST.get("note", ""))
            messages.success(request, f"Run #{run.pk} approved.")
        elif action == "reject":
            actions.decide_run(request.user, run.pk, approve=False,
                               note=request.POST.get("note", ""))
            messages.success(request, f"Run #{run.pk} rejected.")
        elif action == "close":
            actions.close_period(request.user, run.pk)
            messages.success(request, f"{run.period.label} closed on run #{run.pk}.")
        else:
            raise Http404
    except actions.CompensationError as error:
        return _refused(request, error, back)
    return HttpResponseRedirect(back)


@login_required
def payroll_export(request: HttpRequest, run_id: int) -> HttpResponseBase:
    """The payroll file of an approved run (CSV, or XLSX with `?format=xlsx`); audited."""
    run = _run(request, run_id)
    fmt = "xlsx" if request.GET.get("format") == "xlsx" else "csv"
    try:
        _, rows = actions.export_payroll(request.user, run.pk, fmt)
    except actions.CompensationError as error:
        if error.field == "actor":
            raise PermissionDenied(str(error)) from error
        return _refused(request, error, reverse("comp-run", args=[run.pk]))
    return export_response(request, f"payroll-{run.period.label}-run-{run.pk}",
                           engine_io.PAYROLL_HEADER, rows)


@login_required
def run_diff(request: HttpRequest) -> HttpResponseBase:
    """Two runs line by line ("why did my pay change"), for the people the viewer may see."""
    viewer = _viewer(request)
    old, new = cq.run(_int(request.GET.get("old"))), cq.run(_int(request.GET.get("new")))
    person_id = _int(request.GET.get("person"))
    if viewer.is_rep:
        person_id = viewer.person_id
    rows = cq.line_diff(viewer.user, old, new, person_id=person_id) if old and new else []
    if wants_export(request):
        return export_response(request, "comp-run-diff", [
            "person", "line_key", "component", "line_kind", "booking_id", "before", "after",
            "change", "currency", "status"], [
            (r.person_name, r.line_key, r.component, r.line_kind, r.booking_id or "", r.before,
             r.after, r.change, r.currency, r.status) for r in rows])
    for row in rows:
        row.before_steps = trace_steps(row.before_trace)  # type: ignore[attr-defined]
        row.after_steps = trace_steps(row.after_trace)  # type: ignore[attr-defined]
    return render(request, "web/compensation/run_diff.html", {
        "old": old, "new": new, "rows": rows, "csv_url": csv_url(request),
        "runs": cq.runs()[:50], "person_id": person_id})


# --- statements ---------------------------------------------------------------------------------


def _statement(request: HttpRequest, run_id: int, person_id: int) -> cq.Statement:
    run = _run(request, run_id)
    statement = cq.statement(_viewer(request).user, person_id, run)
    if statement is None:
        raise Http404("No such statement.")
    return statement


@login_required
def my_statement(request: HttpRequest) -> HttpResponse:
    """The viewer's statement of the latest period with a run."""
    viewer = _viewer(request)
    if viewer.person_id is not None:
        for period in cq.periods_with_runs():
            shown = cq.statement_run(period)
            if shown is not None and shown.payouts.filter(person_id=viewer.person_id).exists():
                return HttpResponseRedirect(reverse("comp-statement",
                                                    args=[shown.pk, viewer.person_id]))
    messages.info(request, "You have no statement yet.")
    return HttpResponseRedirect(reverse("comp"))


@login_required
def statement(request: HttpRequest, run_id: int, person_id: int) -> HttpResponseBase:
    viewer = _viewer(request)
    st = _statement(request, run_id, person_id)
    if wants_export(request):
        return export_response(request, f"statement-{st.person.external_id}-"
                                        f"{st.run.period.label}", [
            "section", "run", "period_start", "period_end", "component", "kind", "booking_id",
            "credited_amount", "measure_value", "tier", "rate", "amount", "currency",
            "explanation"], [
            *[("earned", st.run.pk, line.period_start, line.period_end, line.component,
               line.line_kind, line.booking_id or "", line.credited_amount, line.measure_value,
               line.tier, line.rate, line.amount, line.currency,
               " ".join(trace_steps(line.trace))) for line in st.lines],
            *[("paid", st.run.pk, line.period_start, line.period_end, line.component,
               line.kind, line.booking_id or "", None, None, "", None, line.amount,
               line.currency, " ".join(trace_steps(line.trace))) for line in st.payout_lines]])
    # a page of each kind of line (a top manager's roll-up has tens of thousands); the
    # totals above them and the exports cover every line
    paid_page = Paginator(st.payout_line_rows, STATEMENT_PAGE_SIZE).get_page(
        request.GET.get("paid_page"))
    lines_page = Paginator(st.line_rows, STATEMENT_PAGE_SIZE).get_page(
        request.GET.get("lines_page"))
    for paid in paid_page:
        paid.steps = trace_steps(paid.trace)  # type: ignore[attr-defined]
    for line in lines_page:
        line.steps = trace_steps(line.trace)  # type: ignore[attr-defined]
        line.rate_pct = (None if line.rate is None  # type: ignore[attr-defined]
                         else line.rate * 100)
    own = viewer.person_id == st.person.pk
    may_decide = not own and (viewer.is_ops or viewer.is_finance or viewer.is_manager)
    return render(request, "web/compensation/statement.html", {
        "st": st, "paid_page": paid_page, "lines_page": lines_page, "payout_totals": [
            (p, [(label, getattr(p, name)) for name, label in PAYOUT_LABELS
                 if getattr(p, name) or name in ("earned", "payout")]) for p in st.payouts],
        "own": own, "csv_url": csv_url(request),
        "can_dispute": own or viewer.is_manager, "can_decide": may_decide,
        "can_sign_off": may_decide and st.signoff is None and not viewer.is_finance,
        "other_runs": cq.runs(period_id=st.run.period_id).exclude(pk=st.run.pk),
        "open_periods": Period.objects.filter(kind=st.run.period.kind,
                                              start__gte=st.run.period.start)
        .order_by("start")[:4]})


@login_required
def statement_pdf(request: HttpRequest, run_id: int, person_id: int) -> HttpResponse:
    st = _statement(request, run_id, person_id)
    doc = Document(f"Compensation statement — {st.person.name}, {st.run.period.label}")
    doc.pairs([
        ("Employee id", st.person.external_id),
        ("Period", f"{st.run.period.start} to {st.run.period.end} (excluded)"),
        ("Run", f"#{st.run.pk}, {st.run.get_approval_display()}"
                f"{', period closed' if st.is_closed else ''}"),
        ("Inputs hash", st.run.calc_run.inputs_hash[:16]),
        *[(f"Payout ({p.currency})", f"{p.payout:,.2f}") for p in st.payouts],
        *[(f"Year to date ({c})", f"{v:,.2f}") for c, v in sorted(st.ytd.items())],
    ])
    for payout in st.payouts:
        doc.heading(f"Totals ({payout.currency})")
        doc.pairs([(label, f"{getattr(payout, name):,.2f}") for name, label in PAYOUT_LABELS])
    doc.heading("What is paid (these lines add up to the payout)")
    doc.table(["Kind", "Component", "Deal", "Amount", "Explanation"], [
        (line.kind, line.component, line.booking_id or "", f"{line.amount:,.2f}",
         " ".join(trace_steps(line.trace))) for line in st.payout_lines],
        widths=(22, 30, 14, 24, 100), numeric=(3,))
    doc.heading("What was earned")
    doc.table(["Component", "Deal", "Credited", "Rate", "Amount", "Explanation"], [
        (line.component or line.line_kind, line.booking_id or "",
         "" if line.credited_amount is None else f"{line.credited_amount:,.2f}",
         "" if line.rate is None else f"{line.rate * 100:.2f}%", f"{line.amount:,.2f}",
         " ".join(trace_steps(line.trace))) for line in st.lines],
        widths=(30, 14, 22, 14, 22, 88), numeric=(2, 3, 4))
    if st.prior_adjustments:
        doc.heading("Corrections found after this period was closed (paid in a later period)")
        doc.table(["Run", "Component", "Change", "Before", "After", "Difference", "Reason"], [
            (a.run_id, a.component, a.change, "" if a.before_amount is None
             else f"{a.before_amount:,.2f}", "" if a.after_amount is None
             else f"{a.after_amount:,.2f}", f"{a.amount:,.2f}", a.reason)
            for a in st.prior_adjustments], widths=(12, 30, 18, 22, 22, 22, 64),
            numeric=(3, 4, 5))
    return _pdf(doc, f"statement-{st.person.external_id}-{st.run.period.label}")


@login_required
@require_POST
def statement_signoff(request: HttpRequest, run_id: int, person_id: int) -> HttpResponse:
    st = _statement(request, run_id, person_id)
    back = reverse("comp-statement", args=[st.run.pk, st.person.pk])
    try:
        actions.approve_statement(request.user, st.run.pk, st.person.pk,
                                  note=request.POST.get("note", ""))
    except actions.CompensationError as error:
        return _refused(request, error, back)
    messages.success(request, f"Statement of {st.person.name} signed off.")
    return HttpResponseRedirect(back)


# --- disputes -----------------------------------------------------------------------------------


@login_required
def dispute_list(request: HttpRequest) -> HttpResponseBase:
    viewer = _viewer(request)
    status = request.GET.get("status") or ""
    rows = cq.disputes(viewer.user, status=status or None)
    if wants_export(request):
        return export_response(request, "comp-disputes", [
            "id", "person", "period", "run", "line", "comment", "raised_at", "status",
            "decision_note", "decided_at", "adjustment"], [
            (d.pk, d.person.name, d.run.period.label, d.run_id, d.line_key, d.comment,
             d.raised_at, d.status, d.decision_note, d.decided_at or "",
             d.adjustment.amount if d.adjustment else "") for d in rows])
    return render(request, "web/compensation/disputes.html", {
        "rows": rows, "status": status, "statuses": Dispute.Status.choices,
        "csv_url": csv_url(request)})


@login_required
@require_POST
def dispute_raise(request: HttpRequest, run_id: int) -> HttpResponse:
    run = _run(request, run_id)
    data = request.POST
    person_id = _int(data.get("person_id"))
    back = (reverse("comp-statement", args=[run.pk, person_id]) if person_id
            else reverse("comp-disputes"))
    try:
        dispute = actions.raise_dispute(request.user, run_id=run.pk,
                                        line_id=data.get("line_id") or None,
                                        person_id=person_id, comment=data.get("comment", ""))
    except actions.CompensationError as error:
        if error.field == "person_id":
            raise Http404("No such statement.") from error
        return _refused(request, error, back)
    messages.success(request, f"Dispute #{dispute.pk} raised; your manager or sales operations "
                              "will answer it.")
    return HttpResponseRedirect(back)


@login_required
@require_POST
def dispute_decide(request: HttpRequest, dispute_id: int) -> HttpResponse:
    viewer = _viewer(request)
    dispute = cq.dispute(viewer.user, dispute_id)
    if dispute is None:
        raise Http404("No such dispute.")
    data = request.POST
    back = data.get("next") or reverse("comp-disputes")
    try:
        decided = actions.decide_dispute(request.user, dispute.pk,
                                         accept=data.get("decision") == "accept",
                                         note=data.get("note", ""),
                                         amount=data.get("amount") or None,
                                         period_id=data.get("period_id") or None)
    except actions.CompensationError as error:
        return _refused(request, error, back)
    messages.success(request, f"Dispute #{decided.pk} {decided.status}.")
    return HttpResponseRedirect(back)


# --- manual lines -------------------------------------------------------------------------------


@login_required
def manual_lines(request: HttpRequest) -> HttpResponseBase:
    viewer, day = _viewer(request), today()
    if viewer.is_rep:
        raise PermissionDenied("SPIFF, MBO and adjustments are entered by managers and ops.")
    if request.method == "POST":
        data = request.POST
        try:
            line = actions.add_manual_line(
                request.user, person_id=data.get("person_id"), period_id=data.get("period_id"),
                kind=data.get("kind", ""), component=data.get("component", ""),
                amount=data.get("amount"), note=data.get("note", ""),
                currency=data.get("currency") or None)
        except actions.CompensationError as error:
            return _refused(request, error, reverse("comp-manual"))
        messages.success(request, f"{line.get_kind_display()} of {line.amount:,.2f} "
                                  f"{line.currency} for {line.person.name} saved.")
        return HttpResponseRedirect(reverse("comp-manual"))
    rows = cq.manual_lines(viewer.user)
    if wants_export(request):
        return export_response(request, "comp-manual-lines", [
            "person", "period", "kind", "component", "amount", "currency", "note", "entered_by",
            "entered_at"], [
            (m.person.name, m.period.label, m.kind, m.component, m.amount, m.currency, m.note,
             m.entered_by.get_username() if m.entered_by else "", m.entered_at) for m in rows])
    return render(request, "web/compensation/manual_lines.html", {
        "rows": rows[:200], "csv_url": csv_url(request), "kinds": ManualLine.Kind.choices,
        "people": people_queries.people(viewer.user, day).exclude(pk=viewer.person_id),
        "periods": Period.objects.filter(kind__in=["month", "quarter"],
                                         start__lte=day).order_by("-start")[:12]})


# --- what-if estimator -----------------------------------------------------------------------


def _what_if_subject(request: HttpRequest) -> tuple[Viewer, int | None, Period | None,
                                                     list[Period]]:
    """(viewer, whose estimate, the period, the periods offered) from `person` and `period`
    (default: the viewer, the current pay period of their plan). Someone whose pay the viewer
    may not see is a 404, like someone who does not exist."""
    viewer, day = _viewer(request), today()
    person_id = _int(request.GET.get("person")) or viewer.person_id
    if person_id is None:
        return viewer, None, None, []
    if not cq.may_see(viewer.user, person_id, day):
        raise Http404("No such person.")
    period_id = _int(request.GET.get("period"))
    period, periods = cq.what_if_period(person_id, period_id, day)
    if period_id is not None and period is None:
        raise Http404("No such pay period of this plan.")
    return viewer, person_id, period, periods


def _ticked(request: HttpRequest) -> list[int]:
    """The opportunity ids of the ticked boxes (`deal`), refusing text that is not an id."""
    ids = []
    for value in request.GET.getlist("deal"):
        number = _int(value)
        if number is None:
            raise cq.WhatIfRefused(f"deal={value!r} is not an opportunity id (a whole number).",
                                   status=400, field="deal", value=value)
        ids.append(number)
    return ids


def _estimate_context(request: HttpRequest, person_id: int, period: Period
                      ) -> tuple[dict[str, Any], int]:
    """The estimate's template context and HTTP status (400/404 with the refusal's words)."""
    viewer = _viewer(request)
    try:
        estimate = cq.what_if(viewer.user, person_id, period, _ticked(request), day=today())
    except cq.WhatIfRefused as error:
        return {"error": error}, error.status
    if estimate is None:
        raise Http404("No such person.")
    return {"estimate": estimate, "total_seconds": sum(estimate.seconds.values()),
            "lines": [(line, trace_steps(line.trace)) for line in estimate.lines]}, 200


@login_required
def what_if(request: HttpRequest) -> HttpResponseBase:
    """The what-if estimator: the person's open deals of a pay period with a box each; ticking
    boxes asks `what_if_estimate` (HTMX) what they would earn if those deals closed."""
    viewer, person_id, period, periods = _what_if_subject(request)
    day = today()
    deals = list(cq.open_deals(person_id, period, day)) if person_id and period else []
    ticked = set(request.GET.getlist("deal"))
    if wants_export(request):
        return export_response(request, f"what-if-{period.label if period else ''}", [
            "opportunity_id", "opportunity", "account", "stage", "probability", "close_date",
            "amount", "currency", "your_split_percent", "ticked"], [
            (o.pk, o.name, o.account.name if o.account else "", o.stage.name,
             o.stage.probability, o.close_date, o.amount, o.currency,
             _share(o, person_id),
             str(o.pk) in ticked) for o in deals])
    context: dict[str, Any] = {
        "person": people_queries.people(viewer.user, day).filter(pk=person_id).first()
        if person_id else None,
        "person_id": person_id, "period": period, "periods": periods, "deals": deals,
        "ticked": ticked, "assignment": cq.current_assignment(person_id, day)
        if person_id else None, "csv_url": csv_url(request),
        "others": [] if viewer.is_rep else list(cq.assignments(viewer.user, day).filter(
            valid_from__lte=day).exclude(valid_to__lte=day)[:500])}
    if ticked and person_id and period:  # without JavaScript: the form's button reloads
        extra, _ = _estimate_context(request, person_id, period)
        context.update(extra)
    return render(request, "web/compensation/what_if.html", context)


def _share(deal: Any, person_id: int | None) -> Decimal | None:
    """The person's revenue split of an `open_deals` row (100 as owner without splits)."""
    if deal.has_splits:
        return deal.split_percent  # type: ignore[no-any-return]
    return Decimal(100) if deal.owner_id == person_id else None


@login_required
def what_if_estimate(request: HttpRequest) -> HttpResponse:
    """The estimate panel for the ticked deals (`person`, `period`, `deal`…), for HTMX."""
    _, person_id, period, _ = _what_if_subject(request)
    if person_id is None or period is None:
        context: dict[str, Any] = {"error": "No plan is assigned for this period."}
        return render(request, "web/compensation/_what_if_estimate.html", context, status=400)
    context, status = _estimate_context(request, person_id, period)
    return render(request, "web/compensation/_what_if_estimate.html", context, status=status)


def money_total(values: dict[str, Decimal]) -> str:
    return ", ".join(f"{v:,.2f} {c}" for c, v in sorted(values.items())) or "—"


# --- URLs (included by attain.web.urls) ---------------------------------------------------------

urlpatterns = [
    path("comp/", overview, name="comp"),
    path("comp/plans/", plan_list, name="comp-plans"),
    path("comp/plans/new/", plan_new, name="comp-plan-new"),
    path("comp/plans/preview/", plan_preview, name="comp-plan-preview"),
    path("comp/plans/<int:plan_id>/new-version/", plan_new_version, name="comp-plan-new-version"),
    path("comp/versions/<int:version_id>/", version_document, name="comp-version"),
    path("comp/versions/<int:version_id>/plan.pdf", version_pdf, name="comp-version-pdf"),
    path("comp/versions/<int:version_id>/edit/", version_edit, name="comp-version-edit"),
    path("comp/versions/<int:version_id>/publish/", version_publish, name="comp-version-publish"),
    path("comp/versions/<int:version_id>/accept/", version_accept, name="comp-version-accept"),
    path("comp/versions/<int:version_id>/example/", version_example,
         name="comp-version-example"),
    path("comp/assignments/", assignment_list, name="comp-assignments"),
    path("comp/runs/", run_list, name="comp-runs"),
    path("comp/runs/progress/", run_progress, name="comp-run-progress"),
    path("comp/runs/diff/", run_diff, name="comp-run-diff"),
    path("comp/runs/<int:run_id>/", run_detail, name="comp-run"),
    path("comp/runs/<int:run_id>/payroll/", payroll_export, name="comp-payroll"),
    path("comp/runs/<int:run_id>/disputes/", dispute_raise, name="comp-dispute-raise"),
    path("comp/runs/<int:run_id>/<slug:action>/", run_action, name="comp-run-action"),
    path("comp/statement/", my_statement, name="comp-my-statement"),
    path("comp/statements/<int:run_id>/<int:person_id>/", statement, name="comp-statement"),
    path("comp/statements/<int:run_id>/<int:person_id>/statement.pdf", statement_pdf,
         name="comp-statement-pdf"),
    path("comp/statements/<int:run_id>/<int:person_id>/sign-off/", statement_signoff,
         name="comp-statement-signoff"),
    path("comp/disputes/", dispute_list, name="comp-disputes"),
    path("comp/disputes/<int:dispute_id>/decide/", dispute_decide, name="comp-dispute-decide"),
    path("comp/manual-lines/", manual_lines, name="comp-manual"),
    path("comp/what-if/", what_if, name="comp-what-if"),
    path("comp/what-if/estimate/", what_if_estimate, name="comp-what-if-estimate"),
]
