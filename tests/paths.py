"""Where the repository's files are, for tests at any depth of ``tests/``."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
DATA = TESTS / "data"
FIXTURES = TESTS / "fixtures"
DOCS = ROOT / "docs"
