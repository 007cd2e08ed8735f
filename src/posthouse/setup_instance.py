"""`posthouse init`: a new instance directory with config, certificate, database,
first domain and admin user."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from posthouse.accounts.passwords import generate_password, hash_password
from posthouse.certificates import write_self_signed
from posthouse.config import CONFIG_NAME, Config, default_config_text, load_config
from posthouse.store import open_store


@dataclass
class InitResult:
    config: Config
    created: bool
    admin_address: str | None = None
    admin_password: str | None = None


async def init_instance(
    directory: Path,
    *,
    domain: str,
    hostname: str,
    admin: str = "admin",
    admin_password: str | None = None,
) -> InitResult:
    """Create what is missing; an existing instance is left as it is."""
    if not directory.exists():
        directory.mkdir(parents=True)
        directory.chmod(0o700)  # all mail and every password hash live under it
    config_path = directory / CONFIG_NAME
    created = not config_path.exists()
    if created:
        config_path.write_text(default_config_text(domain.lower(), hostname.lower()))
    config = load_config(directory)
    if not config.cert_path.exists() or not config.key_path.exists():
        write_self_signed(config.cert_path, config.key_path, config.hostname)
    config.blob_dir.mkdir(parents=True, exist_ok=True)
    store = await open_store(config.database_path, config.blob_dir)
    result = InitResult(config, created)
    try:
        if await store.get_domain(config.domain) is None:
            await store.add_domain(config.domain)
        if not await store.list_users():
            address = admin if "@" in admin else f"{admin}@{config.domain}"
            password = admin_password or generate_password()
            await store.add_user(
                address, hash_password(password), display_name="Administrator", is_admin=True
            )
            # RFC 5321 §4.5.1: every domain must accept mail for postmaster.
            postmaster = f"postmaster@{config.domain}"
            if address != postmaster and await store.get_alias(postmaster) is None:
                await store.add_alias(postmaster, [address])
            result.admin_address = address
            result.admin_password = password
    finally:
        await store.close()
    return result
