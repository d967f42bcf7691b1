"""README is the front door and docs/ the manual: every relative link and anchor resolves, as GitHub renders them."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def prose(path: Path) -> list[str]:
    """The page's lines outside fenced code blocks, with inline code removed."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(re.sub(r"`[^`]*`", "", line))
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (hyphens and underscores kept), spaces → -."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    fenced = False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
        match = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = github_slug(match.group(1))
            found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
            seen[slug] += 1
    return found


def links(path: Path) -> list[str]:
    return [target for line in prose(path) for target in LINK.findall(line)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor in {resolved.name}")
    assert broken == []


def test_the_slugs_are_githubs() -> None:
    assert github_slug("5. Check it: `flask --app app doctor`") == "5-check-it-flask---app-app-doctor"
    assert github_slug("Why `shopifyapp` and not `ShopifyAPI`") == "why-shopifyapp-and-not-shopifyapi"
    assert github_slug("What Shopify sends: include_fields") == "what-shopify-sends-include_fields"
    assert github_slug("Shopify's order count per day") == "shopifys-order-count-per-day"


def test_readme_is_a_front_door_that_reaches_every_page() -> None:
    readme = PROJECT_ROOT / "README.md"
    text = readme.read_text()
    assert len(text.splitlines()) < 120
    reached = {(readme.parent / target.partition("#")[0]).resolve() for target in links(readme)
               if target.startswith("docs/")}
    assert reached == {page.resolve() for page in PAGES[1:]}
    # The two commands, and the picture of an order's path.
    assert "make run " in text and "make test " in text
    assert "Shopify ──POST /webhooks──▶" in text


def test_the_data_rules_and_the_module_table_moved_whole() -> None:
    """docs/architecture.md holds the walk-through and the module table; docs/performance.md the bench table."""
    architecture = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    assert "| `app/mapping/` | pure: Shopify order / checkout → Pinterest `checkout` event" in architecture
    performance = (PROJECT_ROOT / "docs" / "performance.md").read_text()
    assert "**1. Webhook acknowledgement**" in performance and "bench/results/latest.md" in performance
