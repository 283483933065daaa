"""The contract summary: coverage by phase, failures grouped by check, one curl line each."""

from __future__ import annotations

from schemathesis.core.failures import CustomFailure, ServerError

from portal_mock.contract.summary import Finding, Tally, describe, render

LIST = "GET /workorder-portal-links"
GET = "GET /workorder-portal-links/{id}"
# The summary prints the curl line Schemathesis gives it, as it is; that the key
# is filtered out of it is tested end to end in test_contract_process.py.
CURL = "curl -X GET http://127.0.0.1:8080/workorder-portal-links?link_type=secure"


def tally(**cases: int) -> Tally:
    found = Tally()
    for phase, count in cases.items():
        found.cases[phase] = count
        found.operations[phase] = {LIST, GET}
    return found


def test_a_clean_run_says_every_operation_ran_in_every_phase_and_no_violations() -> None:
    text = render(tally(examples=4, coverage=40, fuzzing=20, stateful=10), selected=2, seed=7,
                  errors=0)  # fmt: skip
    assert (
        "operations   2 of 2 exercised in every phase that ran "
        "(examples, coverage, fuzzing, stateful)"
    ) in text
    assert "cases run    74 (examples 4, coverage 40, fuzzing 20, stateful 10)" in text
    assert "result       no contract violations found" in text
    assert "pass --seed 7" in text


def test_an_operation_missing_from_a_phase_is_named() -> None:
    found = tally(examples=4, stateful=10)
    found.operations["stateful"] = {LIST}
    text = render(found, selected=2, seed=None, errors=0)
    assert "1 of 2 exercised in every phase" in text
    assert f"not in stateful: {GET}" in text


def test_failures_are_grouped_by_check_most_first_with_a_curl_line_and_a_cap() -> None:
    found = tally(fuzzing=20)
    for number in range(5):
        found.add_finding(Finding("list_items_match_filters", LIST, f"link {number}: bad", CURL))
    found.add_finding(Finding("ignored_auth", LIST, "API accepts requests without auth", CURL))
    found.add_finding(Finding("ignored_auth", LIST, "API accepts requests without auth", CURL))
    text = render(found, selected=2, seed=None, errors=0)
    assert "result       6 violations found by 2 checks" in text
    lines = text.splitlines()
    first, second = lines.index("  list_items_match_filters: 5"), lines.index("  ignored_auth: 1")
    assert first < second
    assert lines[first + 1] == f"    {LIST}: link 0: bad"
    assert lines[first + 2] == f"      {CURL}"
    assert "    ... and 2 more" in lines


def test_errors_are_counted_in_the_summary() -> None:
    assert "errors       3" in render(tally(fuzzing=1), selected=2, seed=None, errors=3)


def test_a_custom_failure_is_described_by_its_message_and_a_built_in_one_by_its_title() -> None:
    custom = CustomFailure(operation=LIST, title="Custom check failed: `x`", message="rule: bad",
                           exception=AssertionError("rule: bad"))  # fmt: skip
    assert describe(custom) == "rule: bad"
    assert describe(ServerError(operation=LIST, status_code=500)).startswith("Server error")


def test_a_failure_that_needs_earlier_requests_says_how_many() -> None:
    found = tally(stateful=3)
    found.add_finding(Finding("deleted_link_is_gone", GET, "still there", CURL, earlier=2))
    text = render(found, selected=2, seed=None, errors=0)
    assert "      (sent after 2 earlier request(s) that set it up;" in text
