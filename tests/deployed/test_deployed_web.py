"""The ALB in front of the web app, deployed: plain HTTP is redirected to HTTPS, and a browser
without a session is sent to the user pool's sign-in. Opt-in: see conftest.py."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.deployed.client import request


@pytest.fixture(scope="module")
def web_url(deployment) -> str:
    if deployment.web_url is None:
        pytest.fail(f"{deployment.stage} has no web stack output WebUrl: deploy an environment with a web config")
    return deployment.web_url


def test_plain_http_is_redirected_permanently_to_https(web_url):
    host = urllib.parse.urlsplit(web_url).netloc
    response = request("GET", f"http://{host}/")
    assert response.status == 301
    assert response.headers["location"].startswith(f"https://{host}")


def test_a_browser_without_a_session_is_sent_to_the_user_pools_sign_in(deployment, web_url):
    response = request("GET", f"{web_url}/")
    assert response.status == 302
    location = urllib.parse.urlsplit(response.headers["location"])
    query = urllib.parse.parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}" == deployment.managed_login_url
    assert location.path == "/oauth2/authorize"
    assert query["client_id"] == [deployment.alb_client_id]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{web_url}/oauth2/idpresponse"]


def test_xhr_paths_answer_401_instead_of_redirecting(web_url):
    assert request("GET", f"{web_url}/app-api/items").status == 401
