"""Benign background made by machines: firewall and WAF traffic, EDR process events,
database logs, vulnerability scans and resource metrics."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from socwb.demo import lines, records
from socwb.demo.background_people import deploy_times
from socwb.demo.context import HourContext, TimedLine
from socwb.demo.world import (
    APP_HOSTS,
    COUNTRY_NETWORKS,
    DB_HOSTS,
    EGRESS_SERVICES,
    FIREWALL_HOST,
    SERVER_ADDRESSES,
    SERVER_HOSTS,
    WORKER_HOSTS,
    country_ip,
    vpn_address,
)

logger = logging.getLogger(__name__)

PUBLIC_WEB_ADDRESS = "203.0.113.10"
"""The shop's public address (a documentation address: it never leaves the firewall)."""
_DMZ_WEB = "10.0.2.10"
_COUNTRIES = tuple(COUNTRY_NETWORKS)
_SHOP_PATHS = ("/", "/products", "/products/42", "/cart", "/checkout", "/api/search", "/login")
_LAPTOP_PROCESSES = (
    (
        "\\Device\\HarddiskVolume3\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
        '"chrome.exe" --type=renderer',
        "explorer.exe",
    ),
    (
        "\\Device\\HarddiskVolume3\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        '"OUTLOOK.EXE"',
        "explorer.exe",
    ),
    (
        "\\Device\\HarddiskVolume3\\Users\\Public\\AppData\\Local\\Microsoft\\Teams\\ms-teams.exe",
        '"ms-teams.exe" --system-initiated',
        "explorer.exe",
    ),
    (
        "\\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe",
        "C:\\Windows\\system32\\svchost.exe -k netsvcs -p",
        "services.exe",
    ),
    (
        "\\Device\\HarddiskVolume3\\Program Files\\Microsoft VS Code\\Code.exe",
        '"Code.exe" --folder-uri file:///C:/src',
        "explorer.exe",
    ),
)
_SERVER_PROCESSES = (
    ("/usr/bin/python3", "/usr/bin/python3 /opt/app/jobs/cleanup.py", "cron", "app"),
    ("/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf", "cron", "syslog"),
    ("/usr/bin/curl", "curl -fsS http://127.0.0.1:8080/healthz", "bash", "app"),
    ("/usr/lib/postgresql/16/bin/pg_dump", "pg_dump -Fc orders", "bash", "backup"),
)
_DB_APPS = (("svc_orders", "orders"), ("svc_billing", "billing"), ("svc_search", "catalog"))
_DBA_QUERIES = (
    "SELECT pid, state, query_start FROM pg_stat_activity WHERE state <> 'idle'",
    "SELECT relname, n_dead_tup FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 20",
    "EXPLAIN ANALYZE SELECT * FROM orders WHERE customer_id = 1042",
)


def workload(ctx: HourContext, moment: datetime) -> float:
    """Return the relative load at `moment`: 1.0 in working hours down to 0.35 at night."""
    hour = ctx.local_hour(moment)
    weekday = ctx.calendar.is_weekday(ctx.day)
    if 8 <= hour < 18:
        return 1.0 if weekday else 0.55
    if 6 <= hour < 8 or 18 <= hour < 22:
        return 0.7 if weekday else 0.45
    return 0.35


def _world_ip(ctx: HourContext) -> tuple[str, str]:
    country = ctx.rng.choice(_COUNTRIES)
    return country_ip(country, ctx.rng), country


def cisco_asa_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield web connections through the firewall, denied probes and rare admin logins."""
    rng = ctx.rng
    load = workload(ctx, ctx.start)
    for _ in range(ctx.count(30.0 * load)):
        moment = ctx.moment()
        address, _ = _world_ip(ctx)
        port = rng.randint(1024, 65535)
        connection = rng.randint(10_000_000, 99_999_999)
        built = (
            f"Built inbound TCP connection {connection} for outside:{address}/{port} "
            f"({address}/{port}) to dmz:{_DMZ_WEB}/443 ({PUBLIC_WEB_ADDRESS}/443)"
        )
        yield moment, lines.cisco_asa(moment, ctx.zone, FIREWALL_HOST, 6, "302013", built)
        seconds = rng.randint(1, 50)
        closed = moment + timedelta(seconds=seconds)
        teardown = (
            f"Teardown TCP connection {connection} for outside:{address}/{port} to "
            f"dmz:{_DMZ_WEB}/443 duration 0:00:{seconds:02d} "
            f"bytes {rng.randint(800, 90_000)} TCP FINs"
        )
        yield closed, lines.cisco_asa(closed, ctx.zone, FIREWALL_HOST, 6, "302014", teardown)
    for _ in range(ctx.count(8.0)):
        moment = ctx.moment()
        address, _ = _world_ip(ctx)
        target = rng.choice((22, 23, 445, 3389, 5432))
        deny = (
            f"Deny tcp src outside:{address}/{rng.randint(1024, 65535)} dst "
            f'dmz:{_DMZ_WEB}/{target} by access-group "outside_access_in" [0x0, 0x0]'
        )
        yield moment, lines.cisco_asa(moment, ctx.zone, FIREWALL_HOST, 4, "106023", deny)
    yield from _asa_admin_login(ctx)


def _asa_admin_login(ctx: HourContext) -> Iterator[TimedLine]:
    admin = ctx.users[3]
    day = ctx.work.get(admin.index)
    plan = ctx.day_rng("asa-admin")
    if day is None or plan.random() > 0.3:
        return
    moment = day.start + timedelta(hours=2, minutes=plan.randint(0, 120))
    if ctx.start <= moment < ctx.end:
        text = (
            f"Login permitted from {vpn_address(admin)}/{plan.randint(40000, 60000)} to "
            f'inside:10.0.0.1/ssh for user "{admin.login}"'
        )
        yield moment, lines.cisco_asa(moment, ctx.zone, FIREWALL_HOST, 6, "605005", text)


def aws_waf_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield shop requests from many countries, blocked probes and a few rate limits."""
    rng = ctx.rng
    for _ in range(ctx.count(60.0 * workload(ctx, ctx.start))):
        moment = ctx.moment()
        method = "POST" if rng.random() < 0.1 else "GET"
        yield moment, records.aws_waf(rng, moment, _world_ip(ctx), method, rng.choice(_SHOP_PATHS))
    for _ in range(ctx.count(3.0)):
        moment = ctx.moment()
        rule = ("AWS-AWSManagedRulesSQLiRuleSet", "MANAGED_RULE_GROUP")
        uri = rng.choice(("/api/search", "/wp-login.php", "/.env", "/products/42"))
        yield (
            moment,
            records.aws_waf(rng, moment, _world_ip(ctx), "GET", uri, action="BLOCK", rule=rule),
        )
    for _ in range(ctx.count(0.1)):
        moment = ctx.moment()
        rule = ("rate-limit-login", "RATE_BASED")
        yield (
            moment,
            records.aws_waf(
                rng, moment, _world_ip(ctx), "POST", "/login", action="BLOCK", rule=rule
            ),
        )


def crowdstrike_fdr_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield process starts on the laptops of people at work and on every server."""
    rng = ctx.rng
    for user, _, low, high in ctx.at_work():
        for _ in range(ctx.count(3.0)):
            image, command, parent = rng.choice(_LAPTOP_PROCESSES)
            moment = ctx.moment(low, high)
            yield (
                moment,
                records.crowdstrike_process(
                    rng, moment, user.laptop, user.login, image, command, parent, "Win"
                ),
            )
    for host in SERVER_HOSTS:
        for _ in range(ctx.count(1.0)):
            image, command, parent, account = rng.choice(_SERVER_PROCESSES)
            moment = ctx.moment()
            yield (
                moment,
                records.crowdstrike_process(
                    rng, moment, host, account, image, command, parent, "Lin"
                ),
            )


def postgresql_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield db-01's log: application connections, checkpoints, DBA queries, migrations
    during deployments, the nightly backup and rare failed logins."""
    rng = ctx.rng
    zone = ctx.zone
    for _ in range(ctx.count(20.0 * workload(ctx, ctx.start))):
        moment = ctx.moment()
        user, database = rng.choice(_DB_APPS)
        remote = f"{SERVER_ADDRESSES[rng.choice(APP_HOSTS)]}({rng.randint(30000, 60000)})"
        text = f"connection authorized: user={user} database={database} application_name={user}"
        yield (
            moment,
            lines.postgresql(
                moment, zone, (remote, user, database), rng.randint(1000, 99999), "LOG", text
            ),
        )
    for step in ctx.minute_steps(15):
        moment = step + timedelta(seconds=rng.randint(0, 30))
        text = "checkpoint starting: time"
        yield moment, lines.postgresql(moment, zone, ("", "", ""), 1187, "LOG", text)
    for _ in range(ctx.count(0.05)):
        moment = ctx.moment()
        remote = f"{SERVER_ADDRESSES[WORKER_HOSTS[0]]}({rng.randint(30000, 60000)})"
        text = 'password authentication failed for user "svc_reporting"'
        session = (remote, "svc_reporting", "orders")
        yield (
            moment,
            lines.postgresql(moment, zone, session, rng.randint(1000, 99999), "FATAL", text),
        )
    yield from _dba_queries(ctx)
    yield from _migrations(ctx)
    yield from _nightly_backup(ctx)


def _dba_queries(ctx: HourContext) -> Iterator[TimedLine]:
    rng = ctx.rng
    for user, _, low, high in ctx.at_work():
        if user.index not in (1, 4, 5):
            continue
        for _ in range(ctx.count(1.0)):
            moment = ctx.moment(low, high)
            remote = f"{vpn_address(user)}({rng.randint(40000, 60000)})"
            text = f"duration: {rng.uniform(0.2, 40):.3f} ms  statement: {rng.choice(_DBA_QUERIES)}"
            session = (remote, user.login, "orders")
            yield (
                moment,
                lines.postgresql(moment, ctx.zone, session, rng.randint(1000, 99999), "LOG", text),
            )


def _migrations(ctx: HourContext) -> Iterator[TimedLine]:
    for moment in deploy_times(ctx):
        if ctx.start <= moment < ctx.end:
            later = moment + timedelta(seconds=40)
            column = f"note_{ctx.rng.getrandbits(16):04x}"
            text = f"statement: ALTER TABLE orders ADD COLUMN IF NOT EXISTS {column} text"
            session = (f"{SERVER_ADDRESSES[APP_HOSTS[0]]}(51000)", "svc_migrate", "orders")
            yield later, lines.postgresql(later, ctx.zone, session, 4242, "LOG", text)


def _nightly_backup(ctx: HourContext) -> Iterator[TimedLine]:
    backup_at = ctx.calendar.at_local(ctx.day, 1, 30)
    if not ctx.start <= backup_at < ctx.end:
        return
    session = (f"{SERVER_ADDRESSES[DB_HOSTS[1]]}(50500)", "backup", "orders")
    for offset, table in enumerate(("orders", "customers", "invoices")):
        moment = backup_at + timedelta(minutes=offset * 4)
        text = f"statement: COPY public.{table} TO STDOUT"
        yield moment, lines.postgresql(moment, ctx.zone, session, 7001, "LOG", text)


def host_metrics_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield one metric document per server per five minutes (not scaled)."""
    for host in SERVER_HOSTS:
        profile = random.Random(f"host-profile/{host}")
        cpu_base = profile.uniform(0.12, 0.3)
        memory_base = profile.uniform(0.35, 0.65)
        network_base = profile.randint(20_000_000, 80_000_000)
        service = host.split("-")[0]
        for step in ctx.minute_steps(5):
            noise = ctx.rng.uniform(0.9, 1.1)
            load = workload(ctx, step)
            cpu = ctx.overrides.cpu_level(host, step) or cpu_base * (0.6 + 0.6 * load) * noise
            memory = memory_base * ctx.rng.uniform(0.97, 1.03)
            ingress = int(network_base * (0.5 + 0.7 * load) * noise)
            egress = int(ingress * ctx.rng.uniform(0.6, 0.9))
            yield step, lines.host_metric(step, host, service, cpu, memory, (ingress, egress))


def service_metrics_hour(ctx: HourContext) -> Iterator[TimedLine]:
    """Yield one egress document per managed service per five minutes (not scaled)."""
    for service in EGRESS_SERVICES:
        base = random.Random(f"service-profile/{service}").randint(30_000_000, 90_000_000)
        for step in ctx.minute_steps(5):
            load = workload(ctx, step)
            factor = ctx.overrides.egress_factor(service, step)
            egress = int(base * (0.5 + 0.7 * load) * ctx.rng.uniform(0.9, 1.1) * factor)
            requests = int(egress / 40_000)
            yield step, lines.service_metric(step, service, egress, requests)
