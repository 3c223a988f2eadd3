"""The page at ``/`` in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver.

The test installs nothing: ``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``. Without them the
test is skipped and says why. Chromium runs with no network but loopback (``--disable-background-networking``
and friends keep it from calling Google's hosts) and a fresh profile folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest

from iimkg.queries.named import named_query
from iimkg.queries.run import query

from serving import Server, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_SECONDS = 30

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Debian's chromium and chromium-driver are not installed (.ci/run installs them with apt-get)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("browser"), "--workers", "1") as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not look for a driver online
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # Chromium leaves org.chromium.Chromium.* folders in its temporary folder after quitting: give it one of ours
    scratch = tmp_path_factory.mktemp("chromium-tmp")
    service = Service(executable_path=str(CHROMEDRIVER), env={**os.environ, "TMPDIR": str(scratch)})
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _wait_for(browser: Any, selector: str) -> Any:
    """The first element matching ``selector`` once the page that has it loaded (at most WAIT_SECONDS)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_SECONDS).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector)))


def _table(browser: Any) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    _wait_for(browser, "#results, #error")
    errors = browser.find_elements(By.ID, "error")
    assert not errors, errors[0].text
    header = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#results thead th")]
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#results tbody tr")]
    return [header, *rows]


def test_a_typed_query_is_submitted_and_its_table_read(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    assert "IIM treatment knowledge graph" in browser.title
    box = browser.find_element(By.ID, "query")
    box.clear()
    box.send_keys("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                  "SELECT ?label WHERE { <https://w3id.org/iimkg/IIM_0000102> rdfs:label ?label "
                  'FILTER(lang(?label) = "en") }')
    browser.find_element(By.ID, "run").click()
    assert _table(browser) == [["label"], ["prednisone @en"]]
    assert "1 row." in browser.find_element(By.ID, "result-count").text


def test_an_example_question_runs_from_its_link(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    browser.find_element(By.LINK_TEXT, "adverse-effects").click()
    table = _table(browser)
    expected = query("adverse-effects", labels=False, **named_query("adverse-effects").example_values())
    assert table[0] == expected.columns
    assert len(table) - 1 == len(expected)
    # the form shows the query that ran, so it can be edited and run again
    assert "VALUES (?drug)" in browser.find_element(By.ID, "query").get_attribute("value")


def test_a_malformed_query_shows_the_parsers_message(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    box = browser.find_element(By.ID, "query")
    box.clear()
    box.send_keys("SELECT * WHERE { ?s ?p }")
    browser.find_element(By.ID, "run").click()
    message = _wait_for(browser, "#error").text
    assert message.startswith("400: malformed query: error at 1:")


def test_the_page_links_the_downloads_and_the_api(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a")}
    assert links == {name: f"{server.url}/download/{name}" for name in ("iim.ttl", "iim.owl", "iim.nt", "iim.jsonld")}
    assert browser.find_element(By.LINK_TEXT, "OpenAPI document").get_attribute("href") == f"{server.url}/openapi.json"


# ── labels, and a phone's width ──

PHONE = 390


def _viewport(browser: Any, width: int, height: int, *, mobile: bool) -> None:
    """Emulate a screen ``width`` CSS pixels wide (a phone: with the viewport meta tag honoured, as on a phone)."""
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def _no_sideways_scroll(browser: Any) -> None:
    width, inner = browser.execute_script(
        "return [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"the page is {width} px wide in a {inner} px window: it scrolls sideways"


@pytest.mark.parametrize(("width", "height", "mobile"), [(PHONE, 844, True), (1280, 900, False)])
def test_result_cells_show_labels_with_their_curie_at_phone_and_desktop_width(
        server: Server, browser: Any, tmp_path_factory: pytest.TempPathFactory, width: int, height: int,
        mobile: bool) -> None:
    from urllib.parse import urlencode

    from selenium.webdriver.common.by import By

    from iimkg.core.prefixes import compress
    from iimkg.graph.loading import shared_store

    _viewport(browser, width, height, mobile=mobile)
    try:
        # a wide result: every IRI of the adverse-effects example, labelled, plus long literals
        browser.get(server.url + "/")
        browser.find_element(By.LINK_TEXT, "adverse-effects").click()
        _table(browser)
        _no_sideways_scroll(browser)
        folder = tmp_path_factory.mktemp("screenshots")
        browser.save_screenshot(str(folder / f"example-{width}.png"))
        # a term of ours: its English label from the graph, its CURIE beside it, its IRI on hover
        drug = "https://w3id.org/iimkg/IIM_0000102"
        label = next(q.object.value for q in shared_store().quads_for_pattern(
            ox.NamedNode(drug), ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), None)
            if isinstance(q.object, ox.Literal) and q.object.language == "en")
        browser.get(server.url + "/?" + urlencode({"query": f"SELECT ?drug ?other WHERE {{ VALUES (?drug ?other) "
                                                            f"{{ (<{drug}> <https://example.org/no-label>) }} }}"}))
        _table(browser)
        cells = browser.find_elements(By.CSS_SELECTOR, "#results tbody td")
        assert cells[0].find_element(By.CSS_SELECTOR, ".label").text == label
        assert cells[0].find_element(By.CSS_SELECTOR, "code.curie").text == compress(drug)
        assert cells[0].find_element(By.TAG_NAME, "a").get_attribute("title") == drug
        # an IRI with no label in the graph shows what it can: its CURIE or the IRI, and no second name
        assert cells[1].text == (compress("https://example.org/no-label") or "https://example.org/no-label")
        assert not cells[1].find_elements(By.CSS_SELECTOR, "code.curie")
        _no_sideways_scroll(browser)
        browser.save_screenshot(str(folder / f"labels-{width}.png"))
        # a parser's message quoting a long unbroken IRI wraps too
        browser.get(server.url + "/?" + urlencode({"query": "SELECT * WHERE { ?s ?p <https://example.org/"
                                                            + "x" * 300 + "> "}))
        _wait_for(browser, "#error")
        _no_sideways_scroll(browser)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
