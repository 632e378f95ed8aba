"""A small HTTP client for the admin API, shared by the admin CLI and the demo.

Credentials never need to be on the command line: the server URL and admin token
come from ``HADIR_SERVER_URL`` / ``HADIR_ADMIN_TOKEN`` (or ``HADIR_ADMIN_TOKEN_FILE``),
or from an admin TOML file (``--admin-config``, default ``~/.config/hadir/admin.toml``)
with ``server_url`` and ``admin_token`` or ``admin_token_file``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edge.errors import ConfigError, HadirError
from edge.exit_codes import EXIT_FAILED, Handler, print_error

DEFAULT_ADMIN_CONFIG = Path("~/.config/hadir/admin.toml")


class AdminApiError(HadirError, RuntimeError):
    """The server refused or failed an admin request; ``status`` and ``reason`` say why."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class AdminCredentials:
    server_url: str
    admin_token: str


def add_admin_config_arg(parser: argparse.ArgumentParser) -> None:
    """``--admin-config``: where the commands that call the admin API find their credentials."""
    parser.add_argument(
        "--admin-config",
        type=Path,
        default=None,
        help="TOML with server_url and admin_token(_file) (default ~/.config/hadir/admin.toml); "
        "HADIR_SERVER_URL and HADIR_ADMIN_TOKEN override it",
    )


def server_options() -> argparse.ArgumentParser:
    """A parent parser with ``--server`` and ``--admin-config``, for the commands whose
    server URL may come from the command line (``hadir attendance``, ``correction``,
    ``audit``); read them back with :func:`credentials`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--server",
        default=None,
        help="server URL, e.g. http://server:8600 (default: $HADIR_SERVER_URL, else "
        "server_url in the admin config)",
    )
    common.add_argument(
        "--admin-config",
        type=Path,
        default=None,
        help="TOML with server_url and admin_token(_file) (default ~/.config/hadir/admin.toml); "
        "HADIR_ADMIN_TOKEN overrides it",
    )
    return common


def credentials(args: argparse.Namespace) -> AdminCredentials:
    """The credentials of a command parsed with :func:`server_options`: ``--server`` before
    ``HADIR_SERVER_URL`` and the config file."""
    environ: dict[str, str] = dict(os.environ)
    if args.server:
        environ["HADIR_SERVER_URL"] = args.server
    return load_credentials(args.admin_config, environ=environ)


def refusal_exits_1(handler: Handler) -> Handler:
    """A request the server refused or could not answer exits 1 with its reason, as
    ``hadir attendance`` documents (docs/reports.md); bad arguments and missing credentials
    stay 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except AdminApiError as exc:
            print_error(str(exc))
            return EXIT_FAILED

    return run


def report_refusal(exc: AdminApiError, what: str) -> None:
    """One item of a command over many (ids, photos) refused: ``what: reason: detail`` on
    stderr, and the caller goes on with the next and exits 1 at the end. A server error or
    no answer is not about the item: raised again, it ends the command."""
    if exc.status is None or exc.status >= 500:
        raise exc
    print(f"{what}: {exc.reason or exc.status}: {exc}", file=sys.stderr)


def error_answer(response: httpx.Response) -> tuple[str | None, str]:
    """An error answer's reason code and its detail in one line: the API's ``{reason,
    detail}`` (a validation error's list as ``field: message; ...``), else the start of
    whatever came back."""
    try:
        body = response.json()
    except ValueError:
        return None, response.text[:300]
    if not isinstance(body, dict):
        return None, _describe(body)
    return body.get("reason"), _describe(body.get("detail", body))


def refused(response: httpx.Response) -> AdminApiError:
    """An error answer as ``server answered <status>: <detail>``, for the commands that make
    the request with their own client (the reports, a download)."""
    reason, detail = error_answer(response)
    return AdminApiError(
        f"server answered {response.status_code}: {detail}",
        status=response.status_code,
        reason=reason,
    )


def download(
    client: httpx.Client, path: str, params: Mapping[str, Any], what: str
) -> Iterator[bytes]:
    """A file the server streams (a CSV export), as it comes; a refusal (:func:`refused`) or
    a broken connection (``<what> from <server> failed: ...``) raises AdminApiError."""
    try:
        with client.stream("GET", path, params=params) as response:
            if response.status_code >= 400:
                response.read()
                raise refused(response)
            yield from response.iter_bytes()
    except httpx.HTTPError as exc:
        raise AdminApiError(f"{what} from {client.base_url} failed: {exc}") from exc


def read_upload(path: Path) -> bytes:
    """A file a command sends (a photo, an import); one it cannot read raises AdminApiError
    naming it, before anything is sent."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AdminApiError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def load_credentials(
    config_path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> AdminCredentials:
    """Environment first, then the admin config file; one clear error if neither has them."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    path = (config_path or DEFAULT_ADMIN_CONFIG).expanduser()
    if config_path is not None or path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: admin config not found") from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read admin config ({exc})") from exc
        unknown = set(data) - {"server_url", "admin_token", "admin_token_file"}
        if unknown:
            raise ConfigError(f"{path}: {sorted(unknown)[0]}: unknown key")
    url = env.get("HADIR_SERVER_URL") or data.get("server_url")
    token = env.get("HADIR_ADMIN_TOKEN") or data.get("admin_token")
    token_file = env.get("HADIR_ADMIN_TOKEN_FILE") or data.get("admin_token_file")
    if not token and token_file:
        try:
            token = Path(str(token_file)).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{token_file}: cannot read admin token ({exc})") from exc
    if not url:
        raise ConfigError(
            "server URL missing: set HADIR_SERVER_URL or server_url in "
            f"{path} (e.g. http://server:8600)"
        )
    if not token:
        raise ConfigError(
            "admin token missing: set HADIR_ADMIN_TOKEN (or HADIR_ADMIN_TOKEN_FILE), or "
            f"admin_token / admin_token_file in {path}"
        )
    return AdminCredentials(str(url).rstrip("/"), str(token))


class AdminClient:
    """Admin API calls; ``transport`` is the test seam (httpx.MockTransport)."""

    def __init__(
        self,
        credentials: AdminCredentials,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self._client = httpx.Client(
            base_url=f"{credentials.server_url}/api/v1/admin",
            headers={"Authorization": f"Bearer {credentials.admin_token}"},
            transport=transport,
            timeout=timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        return response.json() if response.content else None

    def _call_bytes(self, method: str, path: str, **kwargs: Any) -> bytes:
        """For answers that are files, not JSON (an export)."""
        return self._send(method, path, **kwargs).content

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise AdminApiError(f"{method} {path}: server did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise AdminApiError(
                f"cannot reach the server at {self._client.base_url}: {exc}"
            ) from exc
        if response.status_code >= 400:
            reason, detail = error_answer(response)
            raise AdminApiError(detail, status=response.status_code, reason=reason)
        return response

    # -- people ----------------------------------------------------------------------------

    def create_person(
        self,
        person_id: str,
        name: str,
        group: str = "default",
        *,
        consent: Mapping[str, Any] | None = None,
    ) -> Any:
        """``consent``: record the person's consent in the same step (the API's ConsentGive:
        text_version, collected_by, channel; ``{}`` for the defaults)."""
        body: dict[str, Any] = {"id": person_id, "name": name, "group": group}
        if consent is not None:
            body["consent"] = dict(consent)
        return self._call("POST", "/people", json=body)

    def give_consent(
        self, person_id: str, *, text_version: str | None = None, collected_by: str | None = None
    ) -> Any:
        """Record the person's consent, as given on the command line (channel cli)."""
        body: dict[str, Any] = {"channel": "cli"}
        if text_version:
            body["text_version"] = text_version
        if collected_by:
            body["collected_by"] = collected_by
        return self._call("POST", f"/people/{person_id}/consent", json=body)

    def withdraw_consent(self, person_id: str) -> Any:
        return self._call("DELETE", f"/people/{person_id}/consent")

    def export_person(self, person_id: str, fmt: str = "json") -> bytes:
        """Everything held about the person: JSON bytes, or a zip of CSVs (fmt csv)."""
        return self._call_bytes("GET", f"/people/{person_id}/export", params={"format": fmt})

    def get_person(self, person_id: str) -> Any:
        return self._call("GET", f"/people/{person_id}")

    def list_people(self, group: str | None = None) -> Any:
        return self._call("GET", "/people", params={"group": group} if group else None)

    def delete_person(self, person_id: str) -> Any:
        return self._call("DELETE", f"/people/{person_id}")

    def upload_photo(self, person_id: str, photo: Path, *, force: bool = False) -> Any:
        """``force`` stores a face unlike the person's other templates (see the API)."""
        return self._call(
            "POST",
            f"/people/{person_id}/photos",
            params={"force": "true"} if force else None,
            files={"photo": (photo.name, read_upload(photo), "application/octet-stream")},
        )

    # -- terminals -------------------------------------------------------------------------

    def create_terminal(self, terminal_id: str, group: str, description: str = "") -> Any:
        return self._call(
            "POST",
            "/terminals",
            json={"id": terminal_id, "group": group, "description": description},
        )

    def list_terminals(self) -> Any:
        return self._call("GET", "/terminals")

    def rotate_token(self, terminal_id: str) -> Any:
        return self._call("POST", f"/terminals/{terminal_id}/token")

    def revoke_terminal(self, terminal_id: str) -> Any:
        return self._call("POST", f"/terminals/{terminal_id}/revoke")

    def events(self, **params: Any) -> Any:
        return self._call("GET", "/events", params={k: v for k, v in params.items() if v})

    def review_list(self, **params: Any) -> Any:
        """Events whose liveness check failed (open ones; include_reviewed=True: all)."""
        return self._call("GET", "/events/review", params={k: v for k, v in params.items() if v})

    def mark_reviewed(self, event_id: str) -> Any:
        return self._call("POST", f"/events/{event_id}/review")


def _describe(detail: Any) -> str:
    if isinstance(detail, list):  # FastAPI 422: [{loc, msg}, ...]
        # The location's first part says where the field was (body, query, path); the
        # field's name is what the command's user typed an option for.
        parts = [
            f"{'.'.join(str(p) for p in item.get('loc', [])[1:])}: {item.get('msg')}"
            for item in detail
            if isinstance(item, dict)
        ]
        return "; ".join(parts) or str(detail)
    return str(detail)
