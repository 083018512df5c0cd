"""sippy's problems as few, short JSON log lines."""

from __future__ import annotations

import pytest

from callyard.switch.sippy_log import DATAGRAM_BYTES, PrintedLines, ProblemLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [
        {"msg": r.getMessage(), "traceback": r.exc_info is not None, **r.__dict__}
        for r in caplog.records
        if r.name == "callyard.switch.sip"
    ]


def test_problems_are_rate_limited_and_the_rest_counted(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    problems = ProblemLog(clock, lines=20, window=10.0)
    for _ in range(50):
        problems.report("can't parse SIP request")
    clock.now += 10
    problems.report("can't parse SIP request")
    lines = logged(caplog)
    assert [line["msg"] for line in lines] == [
        *["can't parse SIP request"] * 20,
        "SIP problems not logged",
        "can't parse SIP request",
    ]
    assert lines[20]["left_out"] == 30


def test_a_datagrams_problem_has_its_source_and_start_but_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    problems = ProblemLog(Clock())
    try:
        int("9" * 5000)
    except ValueError as exc:
        with problems.handling(b"INVITE " + b"9" * 5000, "127.0.0.3:5062"):
            problems.report("can't parse SIP request", exc)
        problems.report("timer failed", exc)
    in_datagram, elsewhere = logged(caplog)
    assert (in_datagram["source"], in_datagram["traceback"]) == ("127.0.0.3:5062", False)
    assert len(str(in_datagram["datagram"])) == DATAGRAM_BYTES
    assert str(in_datagram["error"]).startswith("ValueError: Exceeds the limit")
    assert (elsewhere.get("source"), elsewhere["traceback"]) == (None, True)


def test_printed_lines_are_problems(caplog: pytest.LogCaptureFixture) -> None:
    stdout = PrintedLines(ProblemLog(Clock()))
    print("Truncated SIP body,", 12, "bytes expected", file=stdout)
    print("tag-less 200 OK", end="", file=stdout)
    print(", disconnecting", file=stdout)
    assert [line["printed"] for line in logged(caplog)] == [
        "Truncated SIP body, 12 bytes expected",
        "tag-less 200 OK, disconnecting",
    ]
