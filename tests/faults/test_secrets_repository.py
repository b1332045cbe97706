"""No private key, token or password in the files git tracks.

Two kinds of patterns are searched. Key and token formats (PEM private keys,
AWS secret keys, GitHub, Slack and Google tokens, Slack webhook URLs) must not
occur in any tracked file. Assignments of a literal value to a name such as
`password` or `token` are allowed in two folders only. Under `tests/` the values
are made up for local mock servers. In `demo_data/samples/`, public vendor log
samples, fields such as `clientToken` and `tokenHash` are event data. Elsewhere
a secret must come from the environment or a file outside the repository.

AWS access key ids (`AKIA...`) are not searched for: the public CloudTrail
samples contain them by design, and an id without its secret key grants nothing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

KEY_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "AWS secret access key": re.compile(
        r"(?i)aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+]{40}\b"
    ),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{50,})"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
}

ASSIGNMENT = re.compile(
    r"(?i)\b[a-z_]*(?:password|passwd|secret|token|api_key|routing_key)[a-z_]*"
    r"[\"']?[ \t]*[:=][ \t]*"
    r"(?P<value>\"[^\"\s]{6,}\"|'[^'\s]{6,}'|[A-Za-z0-9_+/=.-]{6,}[ \t]*$)",
    re.MULTILINE,
)
"""A secret-like name followed by a literal value of at least six characters."""

NOT_SECRET_VALUES = re.compile(r"^[\"']?(?:[A-Z0-9_]+|[a-z_]+|<[^>]+>)[\"']?$")
"""Constant names, key names and placeholders, such as `SIGN_IN_PASSWORD` or `<hidden>`."""

LITERALS_ALLOWED = ("tests/", "demo_data/samples/")

SECRET_FILE_NAMES = re.compile(r"(?:^|/)(?:\.env|id_rsa|id_ed25519|.*\.pem|.*\.key|.*\.p12)$")


def tracked_files() -> list[Path]:
    """Return the text files git tracks in this checkout."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout, so tracked files cannot be listed: {exc}")
    return [REPO / name for name in listing.split("\0") if name]


def find_secrets(relative: str, text: str) -> list[str]:
    """Return one finding per key, token or secret assignment in one file's text."""
    findings = [
        f"{relative}: {kind}" for kind, pattern in KEY_PATTERNS.items() if pattern.search(text)
    ]
    if relative.startswith(LITERALS_ALLOWED):
        return findings
    for match in ASSIGNMENT.finditer(text):
        if not NOT_SECRET_VALUES.match(match.group("value")):
            line = text.count("\n", 0, match.start()) + 1
            findings.append(f"{relative}:{line}: literal value for {match.group(0)[:40]!r}")
    return findings


def test_tracked_files_hold_no_secret() -> None:
    findings: list[str] = []
    files = tracked_files()
    for path in files:
        relative = path.relative_to(REPO).as_posix()
        if SECRET_FILE_NAMES.search(relative):
            findings.append(f"{relative}: file name of a key or environment file")
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        findings.extend(find_secrets(relative, text))

    assert len(files) > 100
    assert findings == []


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("socwb/x.py", "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIB"),
        ("tests/x.py", "-----BEGIN " + "PRIVATE KEY-----\nMIIB"),
        ("docs/x.md", "aws_secret_access_key = " + "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "0123456789"),
        ("socwb/x.py", "token = 'ghp_" + "a" * 36 + "'"),
        ("compose.yaml", "SOCWB_SEARCH__PASSWORD: " + "hunter2hunter2"),
        ("socwb/x.py", 'smtp_password = "' + "Pw-1234567" + '"'),
        ("README.md", '"routing_key": "' + "R0ut1ngKeyValue" + '"'),
    ],
)
def test_scanner_finds_planted_secret(relative: str, text: str) -> None:
    assert find_secrets(relative, text) != []


@pytest.mark.parametrize(
    ("relative", "text"),
    [
        ("app/state.py", 'SIGN_IN_PASSWORD = "sign_in_password"'),
        ("compose.yaml", "SOCWB_SEARCH__PASSWORD: ${SOCWB_SEARCH__PASSWORD:?set it}"),
        (".env.example", "SOCWB_SEARCH__PASSWORD=\n"),
        ("tests/x.py", 'PASSWORD = "made-up test password"'),
    ],
)
def test_scanner_accepts_placeholders(relative: str, text: str) -> None:
    assert find_secrets(relative, text) == []
