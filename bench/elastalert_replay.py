"""Run every ElastAlert 2 rule once over a past period, then exit.

Run it with the Python of the ElastAlert 2 virtual environment and the same
arguments as `elastalert` (`--config`, `--start`, `--end`, `--verbose`,
`--pin_rules`). `elastalert --start --end` with an end in the past exits as
soon as its main loop finds that the next run would start after `--end`, and
only rules whose scheduled job had already started finish (elastalert2 2.19.0,
`ElastAlerter.start`). This script makes the calls that each rule's scheduled
job makes, one rule after the other, so every rule covers the whole period.
"""

from __future__ import annotations

import sys

from elastalert.elastalert import ElastAlerter
from elastalert.util import ts_to_dt


def main(arguments: list[str]) -> None:
    """Run each loaded rule from --start to --end and send its alerts."""
    client = ElastAlerter(arguments)
    if not client.args.start or not client.args.end:
        raise SystemExit("--start or --end is missing: give both, ISO 8601 with an offset")
    start = ts_to_dt(client.args.start)
    client.wait_until_responsive(timeout=client.args.timeout)

    for rule in client.rules:
        rule["initial_starttime"] = start
        client.handle_rule_execution(rule)
    client.handle_pending_alerts()


if __name__ == "__main__":
    main(sys.argv[1:])
