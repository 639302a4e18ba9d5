"""The config schema (pydantic) and the serving settings (dataclasses) say the same thing."""

from __future__ import annotations

import pickle
from dataclasses import MISSING, fields

import pytest

from sloplane.exporters import settings
from sloplane.exporters.config import SCHEMAS, parse_config


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.settings_class.__name__)
def test_every_schema_field_has_its_settings_twin_with_the_same_default(schema) -> None:
    twin = {f.name: f for f in fields(schema.settings_class)}
    assert set(twin) == set(schema.model_fields)
    for name, info in schema.model_fields.items():
        if info.is_required():
            continue
        mine = twin[name]
        default = mine.default_factory() if mine.default_factory is not MISSING else mine.default
        schema_default = info.get_default(call_default_factory=True)
        if hasattr(schema_default, "to_settings"):
            schema_default = schema_default.to_settings()
        assert default == schema_default, name


def test_validated_settings_are_dataclasses_that_survive_the_hand_off() -> None:
    config = parse_config(
        {
            "modules": {
                "pg": {"kind": "postgres", "password": "s3cret", "user": "mon"},
                "web": {"kind": "http", "basic_auth": {"username": "u", "password": "p"}},
            },
            "targets": [{"name": "db", "module": "pg", "address": "127.0.0.1:5432"}],
            "probe": {"enabled": True},
        }
    )
    assert isinstance(config, settings.ExporterConfig)
    pg = config.modules["pg"]
    assert isinstance(pg, settings.PostgresModule)
    assert pg.secret() == "s3cret" and "s3cret" not in repr(config)
    web = config.modules["web"]
    assert isinstance(web, settings.HttpModule) and web.basic_auth is not None
    assert web.basic_auth.secret() == "p"
    again = pickle.loads(pickle.dumps(config))
    assert again == config and again.modules["pg"].secret() == "s3cret"


def test_a_module_built_directly_wraps_its_password() -> None:
    module = settings.RedisModule(password="pw")
    assert module.secret() == "pw" and "pw" not in repr(module)
