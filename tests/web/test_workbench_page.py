"""The workbench page as the server sends it (Flask client): its own assets only, the strict
policy, the choice lists from the rules files, and error slots the API names."""

from __future__ import annotations

import re

from corrections.persons.schemas import PersonWritableSchema
from corrections.supervision.schemas import PermitInSchema
from corrections.web.views import PAGE_CSP


def test_the_workbench_is_served_with_local_scripts_only_and_the_strict_policy(client):
    resp = client.get("/workbench")
    assert resp.status_code == 200
    assert resp.headers["Content-Security-Policy"] == PAGE_CSP
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all('src="/static/web/' in s for s in scripts)  # no inline script
    assert "session.js" in html and "workbench.js" in html and "idnumber.js" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no other host


def test_the_workbench_lists_choices_from_the_rules_files(client):
    html = client.get("/workbench").get_data(as_text=True)
    assert '<option value="active">在矫</option>' in html  # rules/persons.yaml statuses
    assert '<option value="strict">' in html  # rules/grading.yaml grades
    assert '<option value="suspended_sentence">缓刑</option>' in html
    # The ID number's messages are the API's, in Chinese.
    assert "校验码" in html or "校验" in html


def test_every_error_slot_of_the_forms_is_a_field_the_api_names(client):
    html = client.get("/workbench").get_data(as_text=True)
    intake = html[
        html.index('id="intake-form"') : html.index("</form>", html.index('id="intake-form"'))
    ]
    permit = html[
        html.index('id="permit-form"') : html.index("</form>", html.index('id="permit-form"'))
    ]
    for form, schema in ((intake, PersonWritableSchema), (permit, PermitInSchema)):
        slots = set(re.findall(r'class="error field-error" data-field="([a-z_]+)"', form))
        inputs = set(re.findall(r'name="([a-z_]+)"', form))
        assert slots and slots <= set(schema._declared_fields)
        assert inputs <= set(schema._declared_fields) and slots == inputs
