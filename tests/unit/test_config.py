from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigInvalid, load_settings


def test_no_config_file_runs_on_embedded_defaults_in_the_env_data_dir(tmp_path: Path) -> None:
    settings = load_settings(None, {"WAVEPOOL_DATA_DIR": str(tmp_path / "d")})
    assert settings.data_dir == tmp_path / "d"
    assert settings.ingest.max_bytes == 50 * 1024 * 1024
    assert "synthwave" in settings.genres.taxonomy


def test_data_dir_falls_back_to_a_per_user_folder(tmp_path: Path) -> None:
    settings = load_settings(None, {"XDG_DATA_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path / "wavepool"


def test_config_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "wavepool.toml"
    cfg.write_text('[instance]\ndata_dir = "data"\n')
    assert load_settings(cfg, {"WAVEPOOL_DATA_DIR": "/elsewhere"}).data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        ('[ingest]\nmax_mb = "big"\n', "ingest.max_mb"),
        ("[ingset]\n", "ingset"),
        ("[http]\nport = 70000\n", "port"),
        ('[digest]\ntime = "25:00"\n', "time"),
        ('[links]\nallow_ranges = ["not-a-range"]\n', "allow_ranges"),
        ("[instance\n", "not valid TOML"),
    ],
)
def test_a_bad_config_is_refused_with_a_message_naming_the_key(tmp_path: Path, toml: str, names: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigInvalid, match=names):
        load_settings(cfg, {})


def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[matrix]\nhomeserver = "http://127.0.0.1:1"\nuser_id = "@bot:localhost"\n')
    settings = load_settings(cfg, {"WAVEPOOL_MATRIX_ACCESS_TOKEN": "secret"})
    assert settings.matrix.access_token == "secret"


def test_example_config_is_valid_and_documents_every_table() -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "example.toml"
    settings = load_settings(example, {})
    text = example.read_text()
    for table in (
        "instance",
        "http",
        "ingest",
        "provenance",
        "links",
        "genres",
        "voting",
        "digest",
        "discord",
        "matrix",
        "federation",
    ):
        assert f"[{table}]" in text
    assert settings.http.port > 0


def test_shipped_configs_are_valid() -> None:
    from pathlib import Path

    from config import load_settings

    root = Path(__file__).resolve().parents[2]
    for path in [root / "config" / "example.toml", *sorted((root / "docker" / "instances").glob("*.toml"))]:
        settings = load_settings(path, environ={"WAVEPOOL_MATRIX_ACCESS_TOKEN": "token"})
        assert settings.instance.name, path
