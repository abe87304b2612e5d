"""Fakes shared by the ShipBob unit tests (no tests here): scripted HTTP
answers and settings."""

from __future__ import annotations

import json as jsonlib

import requests
from requests.structures import CaseInsensitiveDict

from connector.settings import Settings

PAT = "pat-SECRET-0123456789"
CLIENT_SECRET = "client-SECRET-abcdef"
REFRESH = "refresh-SECRET-initial"


def response(status: int, body=None, headers=None, text: str | None = None) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    if text is not None:
        resp._content = text.encode()
    else:
        resp._content = b"" if body is None else jsonlib.dumps(body).encode()
    resp.headers = CaseInsensitiveDict(headers or {})
    return resp


class FakeSession:
    """Answers requests from a script; records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[dict] = []

    def _answer(self, **sent):
        self.sent.append(sent)
        answer = self.answers.pop(0)
        if callable(answer):
            answer = answer(**sent)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def request(self, method, url, **kw):
        return self._answer(method=method, url=url, **kw)

    def post(self, url, **kw):
        return self._answer(method="POST", url=url, **kw)


def make_settings(**overrides) -> Settings:
    values = dict(
        shipbob_base_url="http://shipbob.test", shipbob_token=PAT, shipbob_channel_id=42,
        shipbob_rate_limit_per_minute=6000, redis_url=None, http_timeout_seconds=5,
    )
    values.update(overrides)
    return Settings(**values)


def oauth_settings(**overrides) -> Settings:
    return make_settings(shipbob_client_id="app", shipbob_client_secret=CLIENT_SECRET,
                    shipbob_refresh_token=REFRESH, **overrides)
