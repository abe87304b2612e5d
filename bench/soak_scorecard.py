"""The soak's scorecard: both sandboxes compared with each other and with what
the warehouse did (bench/soak_day.py), plus what the connector's own tables
say about retries, stuck and parked work.

Read from the systems themselves (IFS and ShipBob dumps), not from the
connector's bookkeeping: a binding the connector believes in proves nothing.
`compute()` returns a plain dict (written as JSON), `render()` the text and
`failures()` the reasons for a non-zero exit.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import soak_life
from soak_day import PARKED_RETURN_KINDS, ReturnPlan
from soak_hooks import hook, ifs_rows
from sqlalchemy import func, select

from connector.db.models import Job, JobAttempt, JobState, WebhookEvent
from connector.flows.replenishment import base_po
from connector.mappers.orders import reference_for
from webhooks.topics import HANDLED_TOPICS

# Every order topic the connector handles, 2026-07's included (the soak subscribes to them).
ORDER_TOPICS = frozenset(t for t in HANDLED_TOPICS if t.startswith("order."))
RETURN_TOPICS = ("return.created", "return.updated", "return.completed")
VOUCHER_LINES = "FulfillmentVoucherLineArray"  # the voucher lines navigation (the sandbox default)
LIST_LIMIT = 12   # examples listed per problem


def _sample(items) -> list:
    items = sorted(items, key=str)
    return items[:LIST_LIMIT] + ([f"... {len(items) - LIST_LIMIT} more"] if len(items) > LIST_LIMIT else [])


def compute(ctx, ifs_url: str, sb_url: str, day, chaos, stalls, expected_parked: dict[tuple[str, str], str],
            run: dict) -> dict:
    ifs = _IfsView(ifs_url)
    sb_orders = hook(sb_url, "dump/orders", method="GET")
    sb_shipments = hook(sb_url, "dump/shipments", method="GET")
    sb_returns = hook(sb_url, "dump/returns", method="GET")
    sb_wros = hook(sb_url, "dump/receiving", method="GET")
    messages = hook(sb_url, "dump/webhook_messages", method="GET")
    sb_stats = hook(sb_url, "stats", method="GET")
    ifs_stats = hook(ifs_url, "stats", method="GET")
    parked_orders = {key for flow, key in expected_parked if flow == "order_push"}

    card: dict = {"run": run}
    card["orders"], expected_refs = _orders(ifs, sb_orders, parked_orders)
    ours = {o["id"]: o for o in sb_orders if o["reference_id"] in expected_refs}
    card["shipments"] = _shipments(ifs, ours, sb_shipments, day.record)
    card["returns"] = _returns(ctx, ifs, sb_returns, sb_shipments, day.record)
    card["receipts"] = _receipts(ctx, ifs, sb_wros, day)
    card["wros"] = _wros(ifs, _po_lines(ctx, ifs.pos), sb_wros, day.record.split_off_wros,
                         day.life.record.po_raised_part)
    card["inventory_sync"] = _inventory_sync(ctx)
    card["stock"] = _stock(ctx, ifs_url, sb_url)
    card["webhooks"] = _webhooks(messages, sb_stats, ours, sb_shipments, sb_returns, ifs, day.record)
    card["work"] = _work(ctx, expected_parked)
    card["life"] = soak_life.card(ifs_url, sb_url, day.life.record, day.record.cancelled_orders, _parked(ctx),
                                  sb_orders)
    card["faults"] = _faults(chaos.record, stalls, sb_stats, ifs_stats, card["work"])
    card["reconcile"] = run.pop("reconcile", None)
    return card


class _IfsView:
    def __init__(self, url: str):
        self.orders = {o["OrderNo"]: o for o in ifs_rows(url, "CustomerOrderSet")}
        self.lines = ifs_rows(url, "CustomerOrderLineSet")
        # The voucher lines are a navigation: the dump hook inlines them on request.
        self.vouchers = ifs_rows(url, f"FulfillmentVoucherSet?expand={VOUCHER_LINES}")
        self.rmas = ifs_rows(url, "ReturnMaterialSet")
        self.receipts = ifs_rows(url, "PurchaseReceiptSet")
        self.pos = {p["OrderNo"]: p for p in ifs_rows(url, "PurchaseOrderSet")}
        self.line_by_key = {(l["OrderNo"], str(l["LineNo"]), str(l["RelNo"]), int(l.get("LineItemNo") or 0)): l
                            for l in self.lines}


# ------------------------------------------------------------------ orders

def _orders(ifs: _IfsView, sb_orders: list[dict], parked: set[str]) -> tuple[dict, set[str]]:
    expected: dict[str, str] = {}   # reference -> IFS OrderNo
    for line in ifs.lines:
        order = ifs.orders[line["OrderNo"]]
        if order["OrderNo"] in parked or line["Contract"] not in ("S01", "S02"):
            continue
        expected[reference_for(order["OrderNo"], line["Contract"], order["Contract"])] = order["OrderNo"]
    by_ref: dict[str, list[dict]] = defaultdict(list)
    for order in sb_orders:
        by_ref[order["reference_id"]].append(order)
    lost = sorted(set(expected) - set(by_ref))
    duplicated = {ref: [o["id"] for o in os] for ref, os in by_ref.items() if len(os) > 1}
    unexpected = sorted(ref for ref, os in by_ref.items() if ref not in expected
                        and any(t.get("name") == "ifs_order_no" for t in os[0].get("tags") or []))
    ids_of: dict[str, set[str]] = defaultdict(set)
    for ref, order_no in expected.items():
        ids_of[order_no] |= {str(o["id"]) for o in by_ref.get(ref, [])}
    writeback = sorted(no for no, ids in ids_of.items()
                       if set(filter(None, (ifs.orders[no].get("Cf_Shipbob_Order_Id") or "").split(","))) != ids)
    return {
        "ifs_orders": len(ifs.orders), "ifs_orders_expected_at_shipbob": len(ids_of),
        "shipbob_orders_expected": len(expected),
        "shipbob_orders": sum(1 for o in sb_orders if any(t.get("name") == "ifs_order_no" for t in o.get("tags") or [])),
        "lost": len(lost), "lost_list": _sample(lost),
        "duplicated": len(duplicated), "duplicated_list": _sample(f"{r}: {ids}" for r, ids in duplicated.items()),
        "unexpected": len(unexpected), "unexpected_list": _sample(unexpected),
        "writeback_wrong": len(writeback), "writeback_wrong_list": _sample(writeback),
    }, set(expected)


# --------------------------------------------------------------- shipments

def _shipments(ifs: _IfsView, ours: dict[int, dict], sb_shipments: list[dict], record) -> dict:
    shipped = {s["id"]: s for s in sb_shipments if s["order_id"] in ours and s["status"] == "Completed"}
    vouchers: dict[str, list[dict]] = defaultdict(list)
    for v in ifs.vouchers:
        vouchers[str(v.get("ExternalRef"))].append(v)
    missing = [sid for sid in shipped if not vouchers.get(str(sid))]
    doubled = {sid: len(vouchers[str(sid)]) for sid in shipped if len(vouchers.get(str(sid), [])) > 1}
    orphans = [ref for ref in vouchers if not ref.isdigit() or int(ref) not in shipped]
    qty_wrong, tracking_wrong, delivery_missing = [], [], []
    shipped_per_line: dict[tuple, float] = defaultdict(float)
    for sid, shipment in shipped.items():
        posted = vouchers.get(str(sid))
        if not posted:
            continue
        voucher = posted[0]
        want = Counter()
        for p in shipment["products"]:
            want[p["reference_id"]] += sum(i["quantity"] for i in p["inventory_items"])
        got = Counter()
        for vl in voucher.get(VOUCHER_LINES) or []:
            key = (voucher["OrderNo"], str(vl["LineNo"]), str(vl["RelNo"]), int(vl.get("LineItemNo") or 0))
            line = ifs.line_by_key.get(key)
            got[line["PartNo"] if line else f"?{key}"] += float(vl["Qty"])
        if dict(want) != {k: int(v) if v == int(v) else v for k, v in got.items()}:
            qty_wrong.append(f"shipment {sid}: ShipBob {dict(want)}, IFS voucher {dict(got)}")
        number = (shipment.get("tracking") or {}).get("tracking_number")
        if number != voucher.get("TrackingNo"):
            tracking_wrong.append(f"shipment {sid}: ShipBob {number!r}, IFS {voucher.get('TrackingNo')!r}")
        if shipment.get("delivery_date") and not voucher.get("DeliveredDate"):
            delivery_missing.append(sid)
    for v in ifs.vouchers:
        for vl in v.get(VOUCHER_LINES) or []:
            shipped_per_line[(v["OrderNo"], str(vl["LineNo"]), str(vl["RelNo"]),
                              int(vl.get("LineItemNo") or 0))] += float(vl["Qty"])
    line_wrong = []
    shipped_units_by_ref: dict[str, Counter] = defaultdict(Counter)
    for s in shipped.values():
        for p in s["products"]:
            shipped_units_by_ref[s["reference_id"]][p["reference_id"]] += sum(i["quantity"] for i in p["inventory_items"])
    ifs_units_by_ref: dict[str, Counter] = defaultdict(Counter)
    for key, line in ifs.line_by_key.items():
        if float(line.get("QtyShipped") or 0) != shipped_per_line.get(key, 0.0):
            line_wrong.append(f"{'/'.join(map(str, key))}: QtyShipped {line.get('QtyShipped')}, "
                              f"vouchers {shipped_per_line.get(key, 0.0):g}")
        order = ifs.orders[line["OrderNo"]]
        ref = reference_for(order["OrderNo"], line["Contract"], order["Contract"])
        ifs_units_by_ref[ref][line["PartNo"]] += float(line.get("QtyShipped") or 0)
    for order in ours.values():
        want = shipped_units_by_ref.get(order["reference_id"], Counter())
        got = ifs_units_by_ref.get(order["reference_id"], Counter())
        if {k: v for k, v in want.items() if v} != {k: int(v) for k, v in got.items() if v}:
            line_wrong.append(f"{order['reference_id']}: shipped at ShipBob {dict(want)}, "
                              f"QtyShipped in IFS {dict(got)}")
    cancelled = [o for o in ours.values() if o["status"] == "Cancelled"]
    cancelled_with_voucher = [o["id"] for o in cancelled
                              if any(vouchers.get(str(s["id"])) for s in sb_shipments if s["order_id"] == o["id"])]
    per_order = Counter(s["order_id"] for s in shipped.values())
    return {
        "shipbob_orders_shipped": len(per_order), "shipments_shipped": len(shipped),
        "orders_split_into_2_or_3": sum(1 for n in per_order.values() if n > 1),
        "orders_cancelled": len(cancelled), "ifs_vouchers": len(ifs.vouchers),
        "vouchers_missing": len(missing), "vouchers_missing_list": _sample(missing),
        "vouchers_doubled": len(doubled), "vouchers_doubled_list": _sample(f"{k}: {v}" for k, v in doubled.items()),
        "vouchers_orphan": len(orphans), "vouchers_orphan_list": _sample(orphans),
        "voucher_qty_mismatch": len(qty_wrong), "voucher_qty_mismatch_list": _sample(qty_wrong),
        "line_qty_mismatch": len(line_wrong), "line_qty_mismatch_list": _sample(line_wrong),
        "tracking_mismatch": len(tracking_wrong), "tracking_mismatch_list": _sample(tracking_wrong),
        "cancelled_with_voucher": len(cancelled_with_voucher),
        "delivered_at_shipbob": sum(1 for s in shipped.values() if s.get("delivery_date")),
        "delivery_date_missing_in_ifs": len(delivery_missing),
        "delivery_date_missing_list": _sample(delivery_missing),
        "tracking_added_later": len(record.late_tracking),
        "tracking_added_later_in_ifs": sum(
            1 for sid in record.late_tracking if vouchers.get(str(sid))
            and vouchers[str(sid)][0].get("TrackingNo") == (shipped.get(sid, {}).get("tracking") or {}).get("tracking_number")),
    }


# ----------------------------------------------------------------- returns

def _returns(ctx, ifs: _IfsView, sb_returns: list[dict], sb_shipments, record) -> dict:
    rmas: dict[str, list[dict]] = defaultdict(list)
    for rma in ifs.rmas:
        rmas[str(rma.get("ExternalRef"))].append(rma)
    plans: dict[int, ReturnPlan] = record.returns
    status = {r["id"]: r["status"] for r in sb_returns}
    missing, doubled, wrong, not_received, should_be_none = [], [], [], [], []
    returned_per_line: dict[tuple, float] = defaultdict(float)
    names = ctx.names.returns
    lines_of: dict[str, list[dict]] = {}
    for rma in ifs.rmas:
        path = f"{names.rma_set}(RmaNo={rma['RmaNo']})/{names.lines_nav}"
        lines_of[str(rma["RmaNo"])] = list(ctx.ifs.query(names.projection, path))
        for line in lines_of[str(rma["RmaNo"])]:
            returned_per_line[(line["OrderNo"], str(line["LineNo"]), str(line["RelNo"]),
                               int(line.get("LineItemNo") or 0))] += float(line["QtyToReturn"])
    kinds = Counter()
    for rid, plan in plans.items():
        kinds[plan.kind] += 1
        found = rmas.get(str(rid), [])
        if plan.kind == "cancelled" or plan.kind in PARKED_RETURN_KINDS:
            if found:
                should_be_none.append(f"return {rid} ({plan.kind}): {len(found)} RMA(s)")
            continue
        if status.get(rid) != "Completed":
            missing.append(f"return {rid} is {status.get(rid)} at ShipBob (the warehouse did not finish it)")
            continue
        if not found:
            missing.append(f"return {rid} ({plan.kind})")
            continue
        if len(found) > 1:
            doubled.append(f"return {rid}: {len(found)} RMAs")
        rma = found[0]
        if rma.get("Objstate") != "Received":
            not_received.append(f"RMA {rma['RmaNo']} (return {rid}) is {rma.get('Objstate')}")
        got = Counter()
        for line in lines_of[str(rma["RmaNo"])]:
            got[(line["PartNo"], line["ReturnAction"])] += float(line["QtyToReturn"])
        if {k: float(v) for k, v in plan.expected.items()} != dict(got):
            wrong.append(f"return {rid} ({plan.kind}): expected {plan.expected}, RMA {dict(got)}")
    foreign = [ref for ref in rmas if not ref.isdigit() or int(ref) not in plans]
    line_wrong = [f"{'/'.join(map(str, k))}: QtyReturned {l.get('QtyReturned')}, RMAs {returned_per_line.get(k, 0.0):g}"
                  for k, l in ifs.line_by_key.items()
                  if float(l.get("QtyReturned") or 0) != returned_per_line.get(k, 0.0)]
    return {
        "returns_created": len(plans), "by_kind": dict(sorted(kinds.items())),
        "completed_at_shipbob": sum(1 for r in sb_returns if r["status"] == "Completed"),
        "ifs_rmas": len(ifs.rmas),
        "rma_missing": len(missing), "rma_missing_list": _sample(missing),
        "rma_doubled": len(doubled), "rma_doubled_list": _sample(doubled),
        "rma_lines_wrong": len(wrong), "rma_lines_wrong_list": _sample(wrong),
        "rma_not_received": len(not_received), "rma_not_received_list": _sample(not_received),
        "rma_where_none_is_due": len(should_be_none) + len(foreign),
        "rma_where_none_is_due_list": _sample(should_be_none + [f"RMA for unknown return {r}" for r in foreign]),
        "line_qty_returned_mismatch": len(line_wrong), "line_qty_returned_mismatch_list": _sample(line_wrong),
    }


# ---------------------------------------------------------------- receipts

def _receipts(ctx, ifs: _IfsView, sb_wros: list[dict], day) -> dict:
    stowed: dict[tuple[str, str], float] = defaultdict(float)
    wros_of: dict[str, list[dict]] = defaultdict(list)
    for wro in sb_wros:
        number = wro.get("purchase_order_number") or ""
        if wro.get("status") == "Cancelled" or not number:
            continue
        wros_of[base_po(number)].append(wro)
        for q in wro.get("inventory_quantities") or []:
            stowed[(base_po(number), q["sku"])] += float(q.get("stowed_quantity") or 0)
    received: dict[tuple[str, str], float] = defaultdict(float)
    for row in ifs.receipts:
        received[(row["OrderNo"], row["PartNo"])] += float(row.get("QtyArrived") or 0)
    released = sorted(po for po, row in ifs.pos.items() if row["Objstate"] in ("Released", "Received", "Closed")
                      or wros_of.get(po))
    no_wro = [po for po in released if not wros_of.get(po)]
    mismatch = []
    for key in sorted(set(stowed) | set(received)):
        if key[0] not in ifs.pos:
            continue  # the inventory sync's own WROs (INVSYNC-...) have no IFS purchase order
        if stowed.get(key, 0.0) != received.get(key, 0.0):
            mismatch.append(f"{key[0]}/{key[1]}: stowed {stowed.get(key, 0.0):g}, received {received.get(key, 0.0):g}")
    unsynced = [w["id"] for w in sb_wros if w.get("status") == "Completed" and not w.get("external_sync_timestamp")]
    incomplete = [w["id"] for po in released for w in wros_of.get(po, []) if w.get("status") != "Completed"]
    return {
        "ifs_purchase_orders": len(ifs.pos), "wros": len(sb_wros),
        "wros_split_by_the_warehouse": day.record.split_wros,
        "inventory_sync_wros_stowed": len(day.record.invsync_wros_stowed),
        "units_stowed": sum(v for k, v in stowed.items() if k[0] in ifs.pos),
        "units_received_in_ifs": sum(received.values()), "ifs_receipts": len(ifs.receipts),
        "purchase_orders_without_wro": len(no_wro), "purchase_orders_without_wro_list": _sample(no_wro),
        "stowed_vs_received_mismatch": len(mismatch), "stowed_vs_received_mismatch_list": _sample(mismatch),
        "completed_wros_not_synced": len(unsynced), "completed_wros_not_synced_list": _sample(unsynced),
        "wros_not_completed": len(incomplete),
    }


# -------------------------------------------------------- WROs per purchase order

def _po_lines(ctx, pos) -> list[dict]:
    """Every purchase order's lines (IFS has them only under their order)."""
    from connector.ifs import odata

    names = ctx.names.purchase
    return [line for po in sorted(pos) for line in ctx.ifs.query(
        names.projection, f"{odata.key_path(names.order_set, OrderNo=po)}/{names.lines_nav}")]


def _wros(ifs: _IfsView, po_lines: list[dict], sb_wros: list[dict], split_off: set[int],
          raised: tuple[str, str] | None) -> dict:
    """ShipBob's WROs against IFS's purchase order lines: every line on one
    WRO the connector made (the warehouse's split-offs aside; the line
    `raised` (PO, part) after its WRO on one more, the further `<PO>#k`), the
    quantities expected at ShipBob equal to the PO's; and each inventory-sync
    day's shortfall WRO holds a SKU once."""
    lines: dict[str, Counter] = defaultdict(Counter)
    for line in po_lines:
        lines[line["OrderNo"]][line["PartNo"]] += float(line.get("BuyQtyDue") or 0)
    made: dict[str, Counter] = defaultdict(Counter)      # base number -> SKU -> WROs the connector made
    expected: dict[str, Counter] = defaultdict(Counter)  # base number -> SKU -> units expected
    ids: dict[str, list[int]] = defaultdict(list)
    for wro in sb_wros:
        number = wro.get("purchase_order_number") or ""
        if not number or wro.get("status") == "Cancelled":
            continue
        base = base_po(number)
        ids[base].append(wro["id"])
        for q in wro.get("inventory_quantities") or []:
            expected[base][q["sku"]] += float(q.get("expected_quantity") or 0)
            if wro["id"] not in split_off:
                made[base][q["sku"]] += 1
    doubled, qty_wrong, invsync_doubled = [], [], []
    for base, skus in sorted(made.items()):
        twice = sorted(sku for sku, n in skus.items() if n > 1 + ((base, sku) == raised))
        if not twice:
            continue
        line = f"{base}: {', '.join(twice)} on {max(skus.values())} WROs ({sorted(ids[base])})"
        (invsync_doubled if base not in ifs.pos else doubled).append(line)
    for po in sorted(ifs.pos):
        if not ids.get(po):
            continue  # counted as purchase_orders_without_wro when it should have one
        want = {sku: qty for sku, qty in lines[po].items() if qty}
        got = {sku: qty for sku, qty in expected[po].items() if qty}
        if want != got:
            qty_wrong.append(f"{po}: IFS lines {want}, WROs expect {got}")
    return {
        "purchase_orders_with_wros": sum(1 for po in ifs.pos if ids.get(po)),
        "wros_per_purchase_order": dict(Counter(len(ids[po]) for po in ifs.pos if ids.get(po))),
        "po_doubled": len(doubled), "po_doubled_list": _sample(doubled),
        "po_qty_mismatch": len(qty_wrong), "po_qty_mismatch_list": _sample(qty_wrong),
        "invsync_doubled": len(invsync_doubled), "invsync_doubled_list": _sample(invsync_doubled),
    }


# ---------------------------------------------------------- inventory sync

def _inventory_sync(ctx) -> dict:
    from connector.db.models import InventorySnapshot

    with ctx.session() as session:
        jobs = session.execute(select(Job.key, Job.state, Job.attempts).where(Job.flow == "inventory_sync")).all()
        snap = session.execute(select(InventorySnapshot).where(InventorySnapshot.dry_run == 0)
                               .order_by(InventorySnapshot.id.desc()).limit(1)).scalar_one_or_none()
    summary = dict(snap.summary or {}) if snap else {}
    summary.pop("unhandled", None)
    daily = [(k, s, a) for k, s, a in jobs if k.startswith("daily-")]  # not the sites' drift items
    return {"jobs": [f"{k}: {s} after {a} attempt(s)" for k, s, a in daily],
            "done": bool(daily) and all(s == JobState.DONE.value for _, s, _ in daily),
            "summary": {k: v for k, v in summary.items() if not isinstance(v, (list, dict))}}


def _stock(ctx, ifs_url: str, sb_url: str) -> dict:
    """Stock on hand per SKU and site after the closing inventory sync
    (bench/soak.py runs it once everything drained): IFS's planning levels
    against ShipBob's own, read from both sandboxes; and IFS's stock against
    ShipBob's: every (site, SKU) where they differ must be a difference the
    sync reported (and on its site's attention item), and nothing else."""
    fc_of = {site: int(fc) for site, fc in ctx.mapping.sites.items()}
    shipbob: dict[tuple[int, str], float] = {}
    for item in hook(sb_url, "dump/inventory", method="GET"):
        for loc in item.get("locations") or []:
            shipbob[(int(loc["location_id"]), item["sku"])] = float(loc["on_hand_quantity"])
    rows = ifs_rows(ifs_url, "ExternalStockLevelSet")
    wrong = []
    for row in rows:
        fc = fc_of.get(row["Contract"])
        if fc is None:
            continue
        ifs = float(row.get("OnHandQty") or 0)
        sb = shipbob.get((fc, row.get("Sku") or row["PartNo"]))
        if sb != ifs:
            wrong.append(f"{row['Contract']}/{row['PartNo']}: IFS on hand {ifs:g}, ShipBob {sb}")
    covered = {(fc_of.get(r["Contract"]), r.get("Sku") or r["PartNo"]) for r in rows}
    missing = sorted(f"{fc}/{sku}" for (fc, sku), on_hand in shipbob.items()
                     if fc in fc_of.values() and on_hand and (fc, sku) not in covered)
    differ = _stock_differences(ctx, ifs_url, shipbob, fc_of)
    reported, items = _drift_reported(ctx)
    return {
        "ifs_level_rows": len(rows), "shipbob_sku_locations": len(shipbob),
        "level_mismatch": len(wrong) + len(missing),
        "level_mismatch_list": _sample(wrong + [f"{m}: stocked at ShipBob, no IFS level" for m in missing]),
        "stock_differences": len(differ),
        "drift_not_reported": len(set(differ) - reported),
        "drift_not_reported_list": _sample(differ[k] for k in set(differ) - reported),
        "drift_reported_not_there": len(reported - set(differ)),
        "drift_reported_not_there_list": _sample(f"{site}/{sku}" for site, sku in reported - set(differ)),
        "drift_sites_without_item": len({site for site, _ in differ} - items),
        "drift_sites_without_item_list": sorted({site for site, _ in differ} - items),
    }


def _stock_differences(ctx, ifs_url: str, shipbob: dict[tuple[int, str], float],
                       fc_of: dict[str, int]) -> dict[tuple[str, str], str]:
    """(site, SKU) -> how IFS's on hand and ShipBob's differ, once everything drained."""
    ifs: dict[tuple[str, str], float] = defaultdict(float)
    for row in ifs_rows(ifs_url, "InventoryPartInStockSet"):
        if row["Contract"] in fc_of:
            ifs[(row["Contract"], ctx.mapping.sku_for(row["PartNo"]) or row["PartNo"])] += float(row["QtyOnhand"] or 0)
    site_of = {fc: site for site, fc in fc_of.items()}
    at_shipbob = {(site_of[fc], sku): qty for (fc, sku), qty in shipbob.items() if fc in site_of}
    return {key: f"{key[0]}/{key[1]}: IFS {ifs.get(key, 0):g}, ShipBob {at_shipbob.get(key, 0):g}"
            for key in set(ifs) | set(at_shipbob) if ifs.get(key, 0) != at_shipbob.get(key, 0)}


def _drift_reported(ctx) -> tuple[set[tuple[str, str]], set[str]]:
    """The differences the sync holds on record, and the sites whose drift item is open."""
    from connector.db.models import StockDrift

    with ctx.session() as session:
        reported = {(site, sku or part) for site, part, sku in
                    session.execute(select(StockDrift.site, StockDrift.part, StockDrift.sku))}
        keys = session.execute(select(Job.key).where(Job.key.startswith("stock-drift:"),
                                                     Job.state == JobState.ATTENTION.value)).scalars()
        return reported, {key.removeprefix("stock-drift:") for key in keys}


# ---------------------------------------------------------------- webhooks

def _webhooks(messages, sb_stats, ours, sb_shipments, sb_returns, ifs: _IfsView, record) -> dict:
    states = Counter(m["state"] for m in messages if not m["duplicate"])
    dropped = Counter(m["topic"] for m in messages if m["state"] == "dropped")
    reached_order: set[int] = set()
    reached_return_completed: set[int] = set()
    shipped_dropped_orders: set[int] = set()
    for m in messages:
        body = m.get("body") or {}
        if m["topic"] in ORDER_TOPICS:
            order_id = body.get("order_id") if "order_id" in body else body.get("id")
            if m["state"] == "delivered":
                reached_order.add(order_id)
            elif m["topic"] == "order.shipped" and m["state"] == "dropped":
                shipped_dropped_orders.add(order_id)
        elif m["topic"] == "return.completed" and m["state"] == "delivered":
            reached_return_completed.add(body.get("id"))
    vouchers = {str(v.get("ExternalRef")) for v in ifs.vouchers}
    shipped = defaultdict(list)
    for s in sb_shipments:
        if s["status"] == "Completed" and s["order_id"] in ours:
            shipped[s["order_id"]].append(s["id"])
    only_poll = [oid for oid in shipped if oid not in reached_order]
    only_poll_ok = [oid for oid in only_poll if all(str(sid) in vouchers for sid in shipped[oid])]
    rmas = {str(r.get("ExternalRef")) for r in ifs.rmas}
    completed = [r["id"] for r in sb_returns if r["status"] == "Completed"
                 and r["id"] in record.returns and record.returns[r["id"]].kind not in PARKED_RETURN_KINDS]
    ret_only_poll = [rid for rid in completed if rid not in reached_return_completed]
    ret_only_poll_ok = [rid for rid in ret_only_poll if str(rid) in rmas]
    attempts = sb_stats.get("webhooks", {}).get("attempts")
    return {
        "messages": len([m for m in messages if not m["duplicate"]]),
        "duplicates_sent": sum(1 for m in messages if m["duplicate"]),
        "delivery_attempts": attempts,
        "by_state": dict(states), "dropped_by_topic": dict(dropped),
        "shipped_orders_whose_order_shipped_was_dropped": len(shipped_dropped_orders & set(shipped)),
        "shipped_orders_no_webhook_reached": len(only_poll),
        "of_which_all_vouchers_in_ifs": len(only_poll_ok),
        "completed_returns_whose_return_completed_never_arrived": len(ret_only_poll),
        "of_which_rma_in_ifs": len(ret_only_poll_ok),
        "of_which_dropped_on_purpose": len(record.completed_webhook_lost & set(ret_only_poll)),
        "tracking_added_later_without_webhook": len(record.late_tracking),
    }


# -------------------------------------------------------------------- work

def _parked(ctx) -> dict[tuple[str, str], str]:
    with ctx.session() as session:
        return {(flow, key): reason or "" for flow, key, reason in session.execute(
            select(Job.flow, Job.key, Job.reason).where(Job.state == JobState.ATTENTION.value))}


def _work(ctx, expected_parked: dict[tuple[str, str], str]) -> dict:
    with ctx.session() as session:
        by_state = session.execute(select(Job.flow, Job.state, func.count()).group_by(Job.flow, Job.state)).all()
        stuck = session.execute(select(Job.id, Job.flow, Job.key, Job.state, Job.last_error).where(
            Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value]))).all()
        failed = session.execute(select(Job.id, Job.flow, Job.key, Job.last_error).where(
            Job.state == JobState.FAILED.value)).all()
        parked = session.execute(select(Job.id, Job.flow, Job.key, Job.reason).where(
            Job.state == JobState.ATTENTION.value)).all()
        attempts = session.execute(select(Job.flow, JobAttempt.outcome, func.count())
                                   .join(Job, Job.id == JobAttempt.job_id)
                                   .group_by(Job.flow, JobAttempt.outcome)).all()
        retry_reasons = session.execute(select(JobAttempt.detail).where(JobAttempt.outcome == "retry")).scalars().all()
        inbox_open = session.execute(select(func.count()).select_from(WebhookEvent)
                                     .where(WebhookEvent.processed_at.is_(None))).scalar_one()
        inbox = dict(session.execute(select(WebhookEvent.outcome, func.count())
                                     .group_by(WebhookEvent.outcome)).all())
    flows: dict[str, dict[str, int]] = defaultdict(dict)
    for flow, state, n in by_state:
        flows[flow][state] = n
    outcomes: dict[str, dict[str, int]] = defaultdict(dict)
    for flow, outcome, n in attempts:
        outcomes[flow][outcome] = n
    legit, unexpected, drift = [], [], []
    for job_id, flow, key, reason in parked:
        if flow == "inventory_sync" and key.startswith("stock-drift:"):
            drift.append(f"#{job_id} {key}: {reason}")  # checked against both sandboxes in "stock"
            continue
        want = expected_parked.get((flow, key))
        line = f"#{job_id} {flow} {key}: {reason}"
        (legit if want and want in (reason or "") else unexpected).append(line)
    missing_parked = [f"{flow} {key} (expected: {want})" for (flow, key), want in expected_parked.items()
                      if not any(f == flow and k == key for _, f, k, _ in parked)]
    return {
        "jobs_by_flow": {f: dict(sorted(s.items())) for f, s in sorted(flows.items())},
        "attempts_by_flow": {f: dict(sorted(s.items())) for f, s in sorted(outcomes.items())},
        "retries": sum(s.get("retry", 0) for s in outcomes.values()),
        "retry_causes": dict(Counter(_cause(d) for d in retry_reasons).most_common(12)),
        "stuck": len(stuck) + inbox_open,
        "stuck_list": _sample(f"#{i} {f} {k} {s}: {e}" for i, f, k, s, e in stuck)
        + ([f"{inbox_open} webhook event(s) never routed"] if inbox_open else []),
        "failed": len(failed), "failed_list": _sample(f"#{i} {f} {k}: {e}" for i, f, k, e in failed),
        "parked_legitimate": len(legit), "parked_legitimate_list": legit,
        "parked_stock_drift": len(drift), "parked_stock_drift_list": drift,
        "parked_unexpected": len(unexpected), "parked_unexpected_list": _sample(unexpected),
        "parked_expected_but_not_parked": len(missing_parked), "parked_expected_but_not_parked_list": missing_parked,
        "inbox_events": sum(inbox.values()), "inbox_outcomes": _outcomes(inbox),
        # Every subscribed topic is one the connector handles: each event becomes a job's.
        "inbox_not_routed": sum(n for outcome, n in _outcomes(inbox).items() if outcome != "job"),
    }


def _outcomes(inbox: dict) -> dict[str, int]:
    """Inbox outcomes without their ids ("job:123" -> "job")."""
    out: Counter = Counter()
    for outcome, n in inbox.items():
        out[str(outcome).split(":", 1)[0]] += n
    return dict(out)


def _cause(detail: str | None) -> str:
    """A retry's error, without the ids that make every one unique."""
    import re

    text = (detail or "").split(":", 1)
    kind = text[0]
    rest = text[1] if len(text) > 1 else ""
    rest = re.sub(r"\d+", "N", rest)
    rest = re.sub(r"'[^']*'", "'…'", rest)
    return (kind + ":" + rest)[:110]


# ------------------------------------------------------------------ faults

def _faults(chaos_record, stalls, sb_stats, ifs_stats, work) -> dict:
    limited = sb_stats.get("rate_limited", {})
    return {
        "lease_takeovers": sum(1 for t in stalls.takeovers if t["taken_over"]),
        "lease_takeovers_list": [f"{t['flow']} {t['key']}: {t['worker']} frozen {t['frozen_seconds']:g}s at "
                                 f"{t['at']:g}s{'' if t['taken_over'] else ', NOT taken over'}"
                                 for t in stalls.takeovers],
        "db_partitions": len(stalls.partitions),
        "db_partitions_list": [f"{p['worker']} at {p['at']:g}s for {p['seconds']:g}s" for p in stalls.partitions],
        "killed_refreshes": len(stalls.killed_refreshes),
        "killed_refreshes_list": [f"{k['worker']} at {k['at']:g}s; refusal seen {k['refused_seen']}; "
                                  f"re-authorised {'ok' if k['recovered'] else 'FAILED'} after "
                                  f"{k['recovery_after_seconds']:g}s" for k in stalls.killed_refreshes],
        "stall_errors": stalls.errors[:5],
        "worker_sigkills": len(chaos_record.kills),
        "worker_starts_after_kill": chaos_record.worker_starts,
        "unexpected_process_exits": len(chaos_record.unexpected_exits),
        "unexpected_process_exits_list": [f"{t:.0f}s {name} rc={rc}" for t, name, rc in chaos_record.unexpected_exits],
        "redis_restarts": [f"at {t:.0f}s, down {d:.1f}s" for t, d in chaos_record.redis_restarts],
        "postgres_restarts": [f"at {t:.0f}s, down {d:.1f}s" for t, d in chaos_record.postgres_restarts],
        "shipbob_injections": dict(chaos_record.shipbob_faults),
        "ifs_injections": dict(chaos_record.ifs_faults),
        "shipbob_requests": sb_stats.get("total"),
        "shipbob_429_from_its_rate_limit": limited.get("limiter", 0),
        "neighbour_calls": chaos_record.neighbour_calls, "neighbour_429s": chaos_record.neighbour_429s,
        "shipbob_429_injected": limited.get("injected", 0),
        "shipbob_5xx_injected": sum(v for k, v in sb_stats.get("injected_faults", {}).items() if k.startswith("5")),
        "shipbob_401_expired_tokens": sb_stats.get("statuses", {}).get("401", 0),
        "ifs_requests": ifs_stats.get("total_requests"),
        "ifs_faults_served": ifs_stats.get("faults_served", {}),
        "job_retries": work["retries"],
        "chaos_errors": chaos_record.errors[:5],
    }


# ------------------------------------------------------------------ verdict

def failures(card: dict) -> list[str]:
    """Everything that makes the soak exit 1."""
    out = [f"{section}.{name} = {card[section][name]}" for _, section, name in ZERO_LINES if card[section][name]]
    if not card["inventory_sync"]["done"]:
        out.append(f"inventory_sync not done: {card['inventory_sync']['jobs']}")
    if card["run"].get("drain_timed_out"):
        out.append("the pipeline did not drain before the timeout")
    unexplained = (card.get("reconcile") or {}).get("unexplained", 0)
    if unexplained:
        out.append(f"reconcile: {unexplained} unexplained difference(s)")
    web = card["webhooks"]
    if web["of_which_all_vouchers_in_ifs"] != web["shipped_orders_no_webhook_reached"]:
        out.append("orders no webhook reached are missing vouchers")
    if web["of_which_rma_in_ifs"] != web["completed_returns_whose_return_completed_never_arrived"]:
        out.append("returns whose return.completed never arrived are missing RMAs")
    return out


def warnings(card: dict) -> list[str]:
    out = []
    if card["faults"]["unexpected_process_exits"]:
        out.append(f"processes exited on their own: {card['faults']['unexpected_process_exits_list']}")
    return out


# ------------------------------------------------------------------ render

ZERO_LINES = [
    ("orders lost (released in IFS, no ShipBob order)", "orders", "lost"),
    ("orders duplicated (two ShipBob orders for one reference)", "orders", "duplicated"),
    ("orders at ShipBob that should not be (parked ones)", "orders", "unexpected"),
    ("ShipBob order id missing/wrong on the IFS order", "orders", "writeback_wrong"),
    ("shipments without an IFS voucher", "shipments", "vouchers_missing"),
    ("shipments with more than one voucher", "shipments", "vouchers_doubled"),
    ("vouchers for no shipped shipment", "shipments", "vouchers_orphan"),
    ("voucher quantities != shipment (per SKU)", "shipments", "voucher_qty_mismatch"),
    ("IFS lines: QtyShipped != vouchers != ShipBob", "shipments", "line_qty_mismatch"),
    ("tracking numbers that differ", "shipments", "tracking_mismatch"),
    ("delivered shipments without a DeliveredDate in IFS", "shipments", "delivery_date_missing_in_ifs"),
    ("cancelled orders with a voucher", "shipments", "cancelled_with_voucher"),
    ("completed returns without an RMA", "returns", "rma_missing"),
    ("returns with more than one RMA", "returns", "rma_doubled"),
    ("RMA lines != what the warehouse did", "returns", "rma_lines_wrong"),
    ("RMAs not received", "returns", "rma_not_received"),
    ("RMAs where none is due (cancelled/unknown)", "returns", "rma_where_none_is_due"),
    ("IFS lines: QtyReturned != RMAs", "returns", "line_qty_returned_mismatch"),
    ("purchase orders without a WRO", "receipts", "purchase_orders_without_wro"),
    ("stowed at ShipBob != received in IFS", "receipts", "stowed_vs_received_mismatch"),
    ("completed WROs not marked synced", "receipts", "completed_wros_not_synced"),
    ("purchase orders with two WROs for the same lines", "wros", "po_doubled"),
    ("WRO quantities != IFS purchase order lines", "wros", "po_qty_mismatch"),
    ("inventory-sync WROs with a SKU twice", "wros", "invsync_doubled"),
    ("stock on hand per SKU/site: IFS levels != ShipBob's", "stock", "level_mismatch"),
    ("stock differences (IFS vs ShipBob) the sync did not report", "stock", "drift_not_reported"),
    ("stock differences reported that are not there", "stock", "drift_reported_not_there"),
    ("sites with stock differences and no open drift item", "stock", "drift_sites_without_item"),
    ("stuck (jobs pending/running, inbox unrouted)", "work", "stuck"),
    ("failed jobs", "work", "failed"),
    ("parked without a legitimate reason", "work", "parked_unexpected"),
    ("expected to be parked but not parked", "work", "parked_expected_but_not_parked"),
    ("webhook events not routed to a job (ignored, failed)", "work", "inbox_not_routed"),
    *soak_life.ZERO_LINES,
]


def render(card: dict) -> str:
    run, o, s, r, rc = card["run"], card["orders"], card["shipments"], card["returns"], card["receipts"]
    w, wk, f, inv = card["webhooks"], card["work"], card["faults"], card["inventory_sync"]
    out = []
    add = out.append
    add("=" * 78)
    add(f"SOAK SCORECARD  ({run['profile']}: {run['orders']} IFS orders, seed {run['seed']})")
    add("=" * 78)
    add(f"timings: setup {run['setup_seconds']:.0f}s, fault phase {run['fault_seconds']:.0f}s, "
        f"time to drain {run['drain_seconds']:.0f}s{' (TIMED OUT)' if run.get('drain_timed_out') else ''}, "
        f"total {run['total_seconds']:.0f}s")
    add(f"rate limits: {run['rate_limits']}")
    add(f"fault knobs: {run.get('knobs')}")
    add("")
    add("Must be zero")
    for label, section, name in ZERO_LINES:
        value = card[section][name]
        add(f"  {'FAIL' if value else ' ok '}  {label:52} {value}")
        if value:
            for item in card[section].get(f"{name}_list", [])[:LIST_LIMIT]:
                add(f"          - {item}")
    rec = card.get("reconcile") or {}
    add(f"  {'FAIL' if rec.get('unexplained') else ' ok '}  {'reconcile: unexplained differences':52} "
        f"{rec.get('unexplained', '?')}")
    for line in rec.get("lines", []):
        add(f"          {line}")
    add("")
    add("Volume")
    add(f"  IFS orders {o['ifs_orders']} -> ShipBob orders {o['shipbob_orders']} "
        f"(expected {o['shipbob_orders_expected']}; site splits make two)")
    add(f"  shipped orders {s['shipbob_orders_shipped']}, shipments {s['shipments_shipped']} "
        f"({s['orders_split_into_2_or_3']} orders split into 2-3), cancelled {s['orders_cancelled']}, "
        f"IFS vouchers {s['ifs_vouchers']}")
    add(f"  delivered {s['delivered_at_shipbob']}; tracking added later (a webhook only with 2026-07's topics) {s['tracking_added_later']}, "
        f"in IFS {s['tracking_added_later_in_ifs']}")
    add(f"  returns {r['returns_created']} {r['by_kind']}, completed {r['completed_at_shipbob']}, IFS RMAs {r['ifs_rmas']}")
    add(f"  purchase orders {rc['ifs_purchase_orders']}, WROs {rc['wros']} ({rc['wros_split_by_the_warehouse']} split "
        f"by the warehouse; {rc['inventory_sync_wros_stowed']} inventory-sync WROs stowed), units stowed "
        f"{rc['units_stowed']:g} = received {rc['units_received_in_ifs']:g} in {rc['ifs_receipts']} receipts")
    life = card["life"]
    add(f"  after the push: {life['edits_before_pick']} order(s) edited before the pick, "
        f"{life['line_cancels_in_ifs']} with a line cancelled in IFS, {life['edits_after_pick']} edited after "
        f"it, {life['short_orders']} short at ShipBob, {life['shipbob_cancels']} cancelled at ShipBob; "
        f"{life['history_events_recorded']} inventory history events recorded in IFS; purchase order "
        f"line raised after its WRO: {life['po_line_raised']}")
    add(f"  WROs per purchase order {card['wros']['wros_per_purchase_order']} "
        f"({card['wros']['purchase_orders_with_wros']} POs)")
    add(f"  inventory sync: {'; '.join(inv['jobs']) or 'never ran'}; {json.dumps(inv['summary'])}")
    add(f"  stock after the closing sync: {card['stock']['ifs_level_rows']} IFS level rows, "
        f"{card['stock']['shipbob_sku_locations']} ShipBob SKU/FC; IFS and ShipBob differ on "
        f"{card['stock']['stock_differences']} SKU/site, each on a site's drift item:")
    for line in wk["parked_stock_drift_list"]:
        add(f"    {line}")
    add("")
    add("Parked for attention (legitimate: expected by design)")
    for line in wk["parked_legitimate_list"]:
        add(f"   ok   {line}")
    for line in wk["parked_unexpected_list"]:
        add(f"  FAIL  {line}")
    add("")
    add("Webhooks (ShipBob sandbox)")
    add(f"  messages {w['messages']} + {w['duplicates_sent']} duplicates, attempts {w['delivery_attempts']}, "
        f"states {w['by_state']}")
    add(f"  dropped (never delivered): {w['dropped_by_topic']}")
    add(f"  shipped orders whose order.shipped was dropped: {w['shipped_orders_whose_order_shipped_was_dropped']}; "
        f"orders no webhook reached at all: {w['shipped_orders_no_webhook_reached']}, all vouchers in IFS: "
        f"{w['of_which_all_vouchers_in_ifs']} (found by the tracking poll)")
    add(f"  completed returns whose return.completed never arrived: "
        f"{w['completed_returns_whose_return_completed_never_arrived']} ({w['of_which_dropped_on_purpose']} dropped on "
        f"purpose), RMA in IFS: {w['of_which_rma_in_ifs']} (found by the returns poll)")
    add(f"  inbox: {wk['inbox_events']} events {wk['inbox_outcomes']}")
    add("")
    add("Faults and recovery")
    add(f"  worker SIGKILLs {f['worker_sigkills']} (restarted {f['worker_starts_after_kill']}), "
        f"unexpected exits {f['unexpected_process_exits']}")
    add(f"  Redis restarts {f['redis_restarts']}; PostgreSQL restarts {f['postgres_restarts']}")
    add(f"  lease takeovers {f['lease_takeovers']} (a worker frozen mid-run past its lease, then thawed): "
        f"{f['lease_takeovers_list']}; runs stopped by the fence before a write: "
        f"{run.get('writes_stopped_by_the_fence')}")
    add(f"  database partitions {f['db_partitions']}: {f['db_partitions_list']}")
    add(f"  killed OAuth refreshes {f['killed_refreshes']}: {f['killed_refreshes_list']}")
    if f["stall_errors"]:
        add(f"  stall errors: {f['stall_errors']}")
    add(f"  ShipBob: {f['shipbob_requests']} requests ({f['neighbour_calls']} by the neighbour); 429s: "
        f"{f['shipbob_429_from_its_rate_limit']} from the sandbox's limiter ({f['neighbour_429s']} of them to the "
        f"neighbour), {f['shipbob_429_injected']} injected; the connector received {card['run'].get('connector_429s')}; "
        f"5xx injected {f['shipbob_5xx_injected']}, "
        f"401s (expired tokens) {f['shipbob_401_expired_tokens']}, OAuth refreshes {card['run'].get('token_refreshes')}; "
        f"injections {f['shipbob_injections']}")
    add(f"  IFS: {f['ifs_requests']} requests, faults served {f['ifs_faults_served']}; injections {f['ifs_injections']}")
    add(f"  job retries {f['job_retries']}; attempts by flow:")
    for flow, outcomes in wk["attempts_by_flow"].items():
        add(f"    {flow:18} {outcomes}")
    add("  most common retry causes:")
    for cause, n in wk["retry_causes"].items():
        add(f"    {n:5}  {cause}")
    add("")
    warn = warnings(card)
    if warn:
        add("Warnings (not counted as failures)")
        for line in warn:
            add(f"  - {line}")
        add("")
    fails = failures(card)
    add("RESULT: " + ("PASS" if not fails else "FAIL: " + "; ".join(fails)))
    return "\n".join(out)
