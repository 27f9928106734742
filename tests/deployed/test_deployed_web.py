"""The ALB in front of the web app, deployed: plain HTTP is redirected to HTTPS, and a browser
without a session is sent to the user pool's sign-in. Opt-in: see conftest.py."""

from __future__ import annotations

import urllib.parse

import pytest

from tests.deployed.client import call


@pytest.fixture(scope="module")
def web_url(deployment) -> str:
    if deployment.web_url is None:
        pytest.fail(f"{deployment.stage} has no web stack output WebUrl: deploy an environment with a web config")
    return deployment.web_url


def test_plain_http_is_redirected_permanently_to_https(web_url):
    host = urllib.parse.urlsplit(web_url).netloc
    reply = call("GET", f"http://{host}/")
    assert reply.status == 301
    assert reply.header("location").startswith(f"https://{host}")


def test_a_browser_without_a_session_is_sent_to_the_user_pools_sign_in(deployment, web_url):
    reply = call("GET", f"{web_url}/")
    assert reply.status == 302
    location = urllib.parse.urlsplit(reply.header("location"))
    query = urllib.parse.parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}" == deployment.managed_login_url
    assert location.path == "/oauth2/authorize"
    assert query["client_id"] == [deployment.alb_client_id]
    assert query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{web_url}/oauth2/idpresponse"]
