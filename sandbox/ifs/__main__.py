"""`python -m sandbox.ifs --port 8001 [--seed-orders N]`"""

from __future__ import annotations

import argparse
import os


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.ifs",
                                     description="Run the IFS Cloud stand-in.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--seed-orders", type=int, default=0,
                        help="seed a data set with this many released orders")
    parser.add_argument("--realm", default="ifsdemo")
    parser.add_argument("--client-id", default="ifs-shipbob")
    parser.add_argument("--token-ttl", type=int, default=180, help="token lifetime, seconds")
    parser.add_argument("--page-size", type=int, default=500, help="server-driven page size")
    parser.add_argument("--next-link-form", choices=("absolute", "root-relative", "relative"),
                        default="absolute", help="how @odata.nextLink is written")
    parser.add_argument("--date-entered-type", choices=("Edm.DateTimeOffset", "Edm.Date"),
                        default="Edm.DateTimeOffset", help="the Edm type of CustomerOrder.DateEntered")
    parser.add_argument("--tenant", help="a renamed tenant: YAML/JSON file of wire renames "
                                         "(sandbox/ifs/tenant.py)")
    args = parser.parse_args(argv)

    from sandbox.ifs.app import run
    from sandbox.ifs.tenant import TenantError, load_tenant

    config = {"realm": args.realm, "client_id": args.client_id,
              "token_ttl_seconds": args.token_ttl, "page_size": args.page_size,
              "next_link_form": args.next_link_form, "date_entered_type": args.date_entered_type}
    # The secret comes from the environment, not argv (visible in `ps`).
    if os.environ.get("IFS_SANDBOX_CLIENT_SECRET"):
        config["client_secret"] = os.environ["IFS_SANDBOX_CLIENT_SECRET"]
    try:  # the model is built before serving: a bad rename fails here
        if args.tenant:
            config["tenant"] = load_tenant(args.tenant)
        run(port=args.port, host=args.host, seed_orders=args.seed_orders, **config)
    except TenantError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
