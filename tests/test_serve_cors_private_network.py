"""CORS preflight for Chrome's Private Network Access: a hosted page (YASGUI) calling a local ``iimkg serve``.

Chrome sends ``Access-Control-Request-Private-Network: true`` in the preflight when a public page calls a
private address such as 127.0.0.1; the page may go on only if the answer says
``Access-Control-Allow-Private-Network: true``. That call is the use ``--cors`` is for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serving import running_server

_PREFLIGHT = {"Origin": "https://yasgui.example.org", "Access-Control-Request-Method": "POST",
              "Access-Control-Request-Headers": "content-type", "Access-Control-Request-Private-Network": "true"}


@pytest.mark.parametrize(("option", "origin"), [
    ([], "*"),
    (["--cors", "https://yasgui.example.org"], "https://yasgui.example.org"),
])
def test_a_private_network_preflight_from_an_allowed_origin_is_allowed(tmp_path: Path, option: list[str],
                                                                      origin: str) -> None:
    with running_server(tmp_path, "--workers", "1", *option) as server:
        preflight = server.request("OPTIONS", "/sparql", headers=_PREFLIGHT)
        assert preflight.status == 200, preflight.text
        assert preflight.headers.get("access-control-allow-private-network") == "true"
        assert preflight.headers["access-control-allow-origin"] == origin
        # the origin check still holds: another page gets no permission, private network or not
        other = server.request("OPTIONS", "/sparql", headers={**_PREFLIGHT, "Origin": "https://elsewhere.example"})
        if option:
            assert other.status == 400
            assert "access-control-allow-origin" not in other.headers


def test_without_cors_there_is_no_private_network_permission(tmp_path: Path) -> None:
    with running_server(tmp_path, "--workers", "1", "--no-cors") as server:
        preflight = server.request("OPTIONS", "/sparql", headers=_PREFLIGHT)
        assert "access-control-allow-private-network" not in preflight.headers
