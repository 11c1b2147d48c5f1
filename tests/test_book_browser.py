"""The built book (_build/html) in headless Chromium, as its readers get it: offline, on a phone.

    make browser        # = make book, then: pytest -m browser tests/test_book_browser.py

Each page is served by a Python http.server on 127.0.0.1 and opened in Debian's
/usr/bin/chromium through Playwright (never ``playwright install``), once 390 px and once 900 px
wide. Every request that does not go to 127.0.0.1 is blocked and reported, except the Colab
badge image. Checked on every page: no request leaves 127.0.0.1, no local request fails, no
console or page error except Jupyter Book 1's known THEBE_JS_URL one, MathJax typesets every
formula (no raw TeX left), every image loads, every widget with saved state renders, every
solution starts collapsed and opens on click, the table of contents and the page contents open
from the header buttons at both widths, and the Colab links point at this chapter's notebook.
Marked ``browser``: deselected from the plain ``pytest`` run (pyproject addopts), skipped with a
reason when the book is not built or Chromium is missing.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = Path("/usr/bin/chromium")
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_NOTEBOOKS = ("https://colab.research.google.com/github/imgutils-book/"
                   "deep-image-generation-restoration/blob/main/notebooks/")
KNOWN_ERROR = "Identifier 'THEBE_JS_URL' has already been declared"  # sphinx-thebe 0.3.1, JB1
WIDTHS = (390, 900)
MAX_REPORTED = 8  # formula problems listed per page
REDIRECTS = {"index.html"}  # <meta http-equiv="Refresh"> to book/intro.html, checked there
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\end\{"
                     r"|\$[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$")


def _pages() -> list[str]:
    if not HTML.is_dir():
        return []
    pages = (p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html"))
    return sorted(p for p in pages if p.split("/")[0] not in ("_static", "_sources", "_images")
                  and p not in REDIRECTS)


pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (HTML / "index.html").is_file(),
                       reason=f"the book is not built ({HTML} missing): run `make browser`"),
    pytest.mark.skipif(not CHROMIUM.is_file(),
                       reason=f"{CHROMIUM} missing: sudo apt-get install chromium"),
]

# In page: text of the document outside code, scripts and typeset math.
TEXT_OUTSIDE_CODE_JS = """() => {
  const skip = "SCRIPT,STYLE,PRE,CODE,KBD,SAMP,TEXTAREA,NOSCRIPT,TEMPLATE,MJX-CONTAINER".split(",");
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
    acceptNode(node) {
      for (let el = node.parentElement; el; el = el.parentElement) {
        if (skip.includes(el.tagName) || el.classList.contains("highlight")) {
          return NodeFilter.FILTER_REJECT;
        }
      }
      return NodeFilter.FILTER_ACCEPT;
    },
  });
  const parts = [];
  while (walker.nextNode()) parts.push(walker.currentNode.nodeValue);
  return parts.join(" ");
}"""

MATHJAX_DONE_JS = """async () => {
  if (!document.querySelector('script[src*="mathjax"]')) return "no MathJax on this page";
  if (!window.MathJax || !MathJax.startup || !MathJax.startup.promise) {
    return "MathJax did not load";
  }
  await MathJax.startup.promise;
  return "ok";
}"""

MATH_PROBLEMS_JS = """() => {
  const out = [];
  document.querySelectorAll(".math").forEach(el => {
    if (!el.querySelector("mjx-container") && el.tagName !== "MJX-CONTAINER")
      out.push("formula not typeset: " + el.textContent.trim().slice(0, 80));
  });
  document.querySelectorAll("mjx-merror").forEach(el => {
    const message = el.getAttribute("data-mjx-error") || el.textContent;
    out.push("MathJax error: " + message.slice(0, 120));
  });
  return out;
}"""

# Saved widget views: [model_id, has saved state, rendered?] (html-manager puts a
# div.widget-subarea before each view's <script> tag and renders the view into it).
WIDGETS_JS = """() => {
  const state = {};
  document.querySelectorAll('script[type="application/vnd.jupyter.widget-state+json"]')
    .forEach(s => Object.assign(state, JSON.parse(s.textContent).state || {}));
  return [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
    .map(s => {
      const id = JSON.parse(s.textContent).model_id;
      const area = s.previousElementSibling;
      const ok = !!area && area.classList.contains("widget-subarea")
        && area.getBoundingClientRect().height > 0
        && [...area.querySelectorAll("*")].some(e => e.getBoundingClientRect().height > 0);
      return [id, id in state, ok];
    });
}"""

IMAGES_JS = """async () => {
  const imgs = [...document.images];
  imgs.forEach(img => { img.loading = "eager"; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 10000);
  })));
  return imgs.filter(img => !img.complete || img.naturalWidth === 0)
             .map(img => img.currentSrc || img.src);
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def base_url():
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # port 0: a free one
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright missing: pip install -e '.[test]'")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


class _Visit:
    """One page load in a fresh browser context, with every request and error recorded."""

    def __init__(self, browser, base_url: str, page: str, width: int):
        self.base, self.problems = base_url, []
        self.context = browser.new_context(viewport={"width": width, "height": 844})
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)
        self.context.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", self._pageerror)
        self.page.on("response", self._response)
        self.page.on("requestfailed", self._requestfailed)
        self.page.goto(base_url + page, wait_until="load")

    def _local(self, url: str) -> bool:
        return url.startswith(self.base)

    def _route(self, route):
        url = route.request.url
        if self._local(url):
            route.continue_()
            return
        if url != COLAB_BADGE:
            self.problems.append(f"request leaves 127.0.0.1: {url}")
        route.abort()

    def _console(self, msg):
        if msg.type != "error" or KNOWN_ERROR in msg.text:
            return
        if msg.text.startswith("Failed to load resource"):
            return  # reported with its URL by _route / _response / _requestfailed
        self.problems.append(f"console error: {msg.text[:300]}")

    def _pageerror(self, error):
        if KNOWN_ERROR not in str(error):
            self.problems.append(f"page error: {str(error)[:300]}")

    def _response(self, response):
        if self._local(response.url) and response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _requestfailed(self, request):
        if self._local(request.url):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def close(self):
        self.context.close()


def _wait_for_widgets(page):
    page.wait_for_function(f"() => ({WIDGETS_JS})().every(([, saved, ok]) => !saved || ok)",
                           timeout=20_000)


def _check_typesetting(visit: _Visit):
    page, problems = visit.page, visit.problems
    status = page.evaluate(MATHJAX_DONE_JS)
    if status == "MathJax did not load":
        problems.append(status)
    found = page.evaluate(MATH_PROBLEMS_JS)
    text = page.evaluate(TEXT_OUTSIDE_CODE_JS)
    for match in RAW_TEX.finditer(text):
        context = text[max(0, match.start() - 40):match.end() + 40].replace("\n", " ")
        found.append(f"raw TeX after MathJax: ...{context}...")
    problems.extend(found[:MAX_REPORTED])
    if len(found) > MAX_REPORTED:
        problems.append(f"... and {len(found) - MAX_REPORTED} more formula problems")


def _check_widgets(visit: _Visit):
    try:
        _wait_for_widgets(visit.page)
    except Exception:  # the report below says which
        pass
    visit.page.evaluate(MATHJAX_DONE_JS)  # widget labels are typeset after rendering
    for model_id, saved, ok in visit.page.evaluate(WIDGETS_JS):
        if not saved:
            visit.problems.append(f"widget {model_id}: no saved state, empty box")
        elif not ok:
            visit.problems.append(f"widget {model_id}: saved state but nothing rendered")


def _check_images(visit: _Visit):
    for src in visit.page.evaluate(IMAGES_JS):
        if src != COLAB_BADGE:
            visit.problems.append(f"image does not load: {src[:200]}")


def _check_solutions(visit: _Visit):
    page = visit.page
    solutions = page.locator(".solution, details.solution")
    for i in range(solutions.count()):
        solution = solutions.nth(i)
        name = (solution.get_attribute("id") or f"solution {i + 1}")
        if solution.evaluate("el => el.tagName") == "DETAILS":
            content, opener = solution.locator(":scope > :not(summary)").first, \
                solution.locator(":scope > summary")
        else:
            content = solution.locator(":scope > :not(.admonition-title)").first
            # every other solution is opened by the "Exercise N" link of its title (a click
            # there used to throw in sphinx-togglebutton), the others by the chevron
            link = solution.locator(":scope > .admonition-title a")
            opener = (link.first if i % 2 and link.count() else
                      solution.locator(":scope > .admonition-title .toggle-button"))
        if content.count() == 0:
            visit.problems.append(f"{name}: solution has no content")
            continue
        if content.is_visible():
            visit.problems.append(f"{name}: solution is not collapsed on load")
            continue
        opener.click()
        try:
            content.wait_for(state="visible", timeout=3_000)
        except Exception:
            visit.problems.append(f"{name}: solution does not open on click")


def _check_colab_links(visit: _Visit, page_path: str):
    page = visit.page
    hrefs = page.eval_on_selector_all(
        'a[href^="https://colab.research.google.com/"]', "els => els.map(e => e.href)")
    if not page_path.startswith("notebooks/"):
        for href in hrefs:
            name = href.removeprefix(COLAB_NOTEBOOKS)
            if href == name or not (ROOT / "notebooks" / name).is_file():
                visit.problems.append(f"Colab link to no notebook of this book: {href}")
        return
    expected = COLAB_NOTEBOOKS + Path(page_path).with_suffix(".ipynb").name
    launch = page.eval_on_selector_all(
        '.dropdown-launch-buttons a[href*="colab.research.google.com"]',
        "els => els.map(e => e.href)")
    badge = page.eval_on_selector_all(
        f'article a:has(img[src="{COLAB_BADGE}"])', "els => els.map(e => e.href)")
    if not launch:
        visit.problems.append("no Colab launch button in the header")
    if not badge:
        visit.problems.append("no 'Open in Colab' badge link in the chapter")
    for href in set(hrefs) - {expected}:
        visit.problems.append(f"Colab link {href} is not {expected}")


def _check_sidebars(visit: _Visit, width: int):
    """The header buttons open the table of contents and, where there is one, the page contents."""
    page = visit.page
    for side, toggle, dialog, content in (
        ("table of contents", ".primary-toggle", "#pst-primary-sidebar-modal", "nav.bd-docs-nav"),
        ("page contents", ".secondary-toggle", "#pst-secondary-sidebar-modal", "nav.page-toc"),
    ):
        buttons = [b for b in page.locator(f".bd-header-article {toggle}, .bd-header {toggle}")
                   .all() if b.is_visible()]
        has_content = page.locator(f"{content} a").count() > 0
        if not buttons:
            if side == "table of contents" or has_content:
                visit.problems.append(f"{width} px: no visible header button for the {side}")
            continue
        target = page.locator(f"{dialog} {content}")
        buttons[0].click()
        try:
            page.locator(f"{dialog}[open]").wait_for(state="visible", timeout=3_000)
            target.wait_for(state="visible", timeout=3_000)
            box = target.bounding_box()
            if not box or box["x"] < -1 or box["x"] + box["width"] > width + 1:
                visit.problems.append(f"{width} px: the {side} opens outside the screen: {box}")
        except Exception:
            visit.problems.append(f"{width} px: the header button does not open the {side}")
            continue
        page.keyboard.press("Escape")
        try:
            page.locator(f"{dialog}[open]").wait_for(state="detached", timeout=3_000)
        except Exception:
            visit.problems.append(f"{width} px: Escape does not close the {side}")


@pytest.mark.parametrize("page_path", _pages() or ["(book not built)"])
def test_page_in_browser(browser, base_url, page_path):
    problems = []
    for width in WIDTHS:
        visit = _Visit(browser, base_url, page_path, width)
        try:
            if width == WIDTHS[0]:
                _check_widgets(visit)
                _check_typesetting(visit)
                _check_images(visit)
                _check_colab_links(visit, page_path)
                _check_solutions(visit)
            _check_sidebars(visit, width)
        finally:
            visit.close()
        problems += [p if p.startswith(f"{width} px") else f"{width} px: {p}"
                     for p in dict.fromkeys(visit.problems)]
    if problems:
        pytest.fail(f"{page_path}:\n  " + "\n  ".join(problems), pytrace=False)


def test_every_chapter_is_checked():
    chapters = {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    checked = {Path(p).stem for p in _pages() if p.startswith("notebooks/")}
    assert chapters <= checked, f"chapters not in the built book: {sorted(chapters - checked)}"
