"""Static checks of rules/*.smk (issue 15, item 6): the report's sections have one name
per number and sort in their numbered order; local rules say so themselves."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]


def test_report_section_numbers_are_unique_and_sort_in_order():
    names = {}
    for path in SOURCES:
        for category in re.findall(r'\bcategory="([^"]+)"', path.read_text()):
            number, _, name = category.partition(". ")
            assert number.isdigit() and name, f"{path.name}: report category {category!r} has no section number"
            names.setdefault(int(number), set()).add(name)
    repeated = {number: sorted(found) for number, found in names.items() if len(found) > 1}
    assert not repeated, f"section numbers used for more than one name: {repeated}"
    # Snakemake's report menu sorts category names as text: "10." would come before "2.".
    assert max(names) <= 9, sorted(names)


def test_no_global_localrules_list():
    for path in SOURCES:
        assert not re.search(r"^\s*localrules\s*:", path.read_text(), re.M), f"{path.name}: use `localrule: True` in the rule"
