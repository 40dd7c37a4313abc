"""The worker's Faust app takes its configuration from fillrate's settings alone."""

from __future__ import annotations

import faust
import pytest

from streams.settings import Settings
from streams.worker import build_worker

# What a container platform, a Celery deployment or a shell profile may well have set.
STRAY = {
    "BROKER_URL": "redis://cache:6379/0",
    "WEB_PORT": "8080",
    "WEB_HOST": "example.invalid",
    "PRODUCER_LINGER_MS": "250",
    "TOPIC_PARTITIONS": "1",
}


def test_faust_s_unprefixed_environment_variables_do_not_reach_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in STRAY.items():
        monkeypatch.setenv(name, value)
    plain = faust.App("t-stray", broker="kafka://127.0.0.1:1", web_port=6066, autodiscover=False)
    assert plain.conf.web_port == 8080  # what Faust does with them on its own
    settings = Settings.load(
        {"broker": "kafka://127.0.0.1:19092", "web_port": 6123, "partitions": 4}, environ={}
    )
    conf = build_worker(settings).app.conf
    assert [str(url) for url in conf.broker] == ["kafka://127.0.0.1:19092"]
    assert conf.web_port == 6123
    assert conf.web_host == settings.web_host
    assert conf.producer_linger == pytest.approx(0.002)
    assert conf.topic_partitions == 4
