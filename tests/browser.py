"""What the Chromium tests share: a form submitted and its answer page loaded.

A click on a submit button only starts the navigation (Playwright does not wait for the next
page to load); a locator read right after it can still see the page the click left — on a
loaded CI machine the ranking page's selects were found empty that way and an empty ranking
was posted. `submit` waits for the page the form leads to."""
from __future__ import annotations


def submit(page, selector: str = "main > form button[type=submit]") -> None:
    """Click the form's submit button (or a link) and wait until the next page has loaded."""
    with page.expect_navigation(wait_until="load"):
        page.click(selector)
