"""The sandbox's configuration and its seeded merchant accounts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.local.devconfig import GATEWAY_PORT, SANDBOX_PORT, component_settings

OFFICIAL_ACCOUNT = "official_account"
MINI_PROGRAM = "mini_program"

# Permission-set ids (funcscope_category) granted by default.
OFFICIAL_FUNC_INFO: tuple[int, ...] = (1, 2, 3, 4, 6, 7, 11, 15)
MINI_FUNC_INFO: tuple[int, ...] = (17, 18, 19, 25, 30, 31, 36, 37)


@dataclass(frozen=True)
class MerchantAccount:
    """One account a merchant admin can authorize on the sandbox's authorization page."""

    appid: str
    user_name: str
    nick_name: str
    kind: str  # OFFICIAL_ACCOUNT or MINI_PROGRAM
    principal_name: str
    alias: str = ""
    service_type: int = 2  # official accounts: 0 subscription, 1 upgraded, 2 service; mini programs 0
    verify_type: int = 0  # 0 WeChat-verified, -1 not verified
    func_info: tuple[int, ...] = ()

    @property
    def is_mini_program(self) -> bool:
        return self.kind == MINI_PROGRAM

    @property
    def permissions(self) -> tuple[int, ...]:
        if self.func_info:
            return self.func_info
        return MINI_FUNC_INFO if self.is_mini_program else OFFICIAL_FUNC_INFO

    @property
    def kind_label(self) -> str:
        return "小程序 Mini Program" if self.is_mini_program else "公众号 Official Account"


# Full-network release test accounts (docs/protocol.md §6), always authorizable: WeChat's first Official
# Account and first Mini Program. The release checks run against the Official Account by default.
RELEASE_TEST_ACCOUNT = MerchantAccount(
    appid="wx570bc396a51b8ff8",
    user_name="gh_3c884a361561",
    nick_name="全网发布测试号 Release Test",
    kind=OFFICIAL_ACCOUNT,
    principal_name="腾讯全网发布测试 Tencent release test",
    alias="release_test",
)
RELEASE_TEST_MINI_PROGRAM = MerchantAccount(
    appid="wxd101a85aa106f53e",
    user_name="gh_8dad206e9538",
    nick_name="全网发布测试小程序 Release Test Mini Program",
    kind=MINI_PROGRAM,
    principal_name="腾讯全网发布测试 Tencent release test",
    service_type=0,
)
RELEASE_TEST_ACCOUNTS = (RELEASE_TEST_ACCOUNT, RELEASE_TEST_MINI_PROGRAM)

_SEED_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("星河咖啡 Galaxy Coffee", OFFICIAL_ACCOUNT, "星河咖啡有限公司 Galaxy Coffee Ltd.", "galaxycoffee"),
    ("青木书店 Aoki Books", OFFICIAL_ACCOUNT, "青木文化传媒 Aoki Media Co.", "aokibooks"),
    ("晨光健身 Morning Fitness", OFFICIAL_ACCOUNT, "晨光体育 Morning Sports Co.", "morningfit"),
    ("小鹿点餐 Fawn Order", MINI_PROGRAM, "小鹿餐饮科技 Fawn Catering Tech", ""),
    ("云朵快递 Cloud Express", MINI_PROGRAM, "云朵物流 Cloud Logistics Co.", ""),
)


def seeded_accounts(seed: int) -> list[MerchantAccount]:
    """Three Official Accounts and two Mini Programs, the same for the same seed."""
    rng = random.Random(f"sandbox-accounts:{seed}")  # noqa: S311 - deterministic on purpose
    accounts = []
    for index, (name, kind, principal, alias) in enumerate(_SEED_ACCOUNTS):
        accounts.append(
            MerchantAccount(
                appid="wx" + "".join(rng.choice("0123456789abcdef") for _ in range(16)),
                user_name="gh_" + "".join(rng.choice("0123456789abcdef") for _ in range(12)),
                nick_name=name,
                kind=kind,
                principal_name=principal,
                alias=alias,
                service_type=0 if kind == MINI_PROGRAM else 2,
                verify_type=-1 if index == 2 else 0,
            )
        )
    return accounts


def _setting(name: str) -> Callable[[], str]:
    return lambda: component_settings()[name]


@dataclass
class SandboxConfig:
    """Where the sandbox listens, where it pushes, and the component it plays WeChat for."""

    host: str = "127.0.0.1"
    port: int = SANDBOX_PORT  # 0 = an ephemeral port
    seed: int = 0
    ticket_interval: float | None = 600.0  # 0 or None: push only on start and on demand
    push_ticket_on_start: bool = True
    component_events_url: str = f"http://127.0.0.1:{GATEWAY_PORT}/wechat/component/events"
    account_messages_url: str = f"http://127.0.0.1:{GATEWAY_PORT}/wechat/accounts/{{appid}}/messages"
    start_domain: str = f"http://127.0.0.1:{GATEWAY_PORT}"
    # The platform's page domain (网页开发域名), which web login's redirect_uri must be on, and the
    # authorized accounts' JS-safe domain (JS接口安全域名) the platform set for them; None: start_domain.
    web_domain: str | None = None
    component_appid: str = field(default_factory=_setting("WECHAT_COMPONENT_APPID"))
    component_appsecret: str = field(default_factory=_setting("WECHAT_COMPONENT_APPSECRET"))
    component_token: str = field(default_factory=_setting("WECHAT_COMPONENT_TOKEN"))
    component_aes_key: str = field(default_factory=_setting("WECHAT_COMPONENT_AES_KEY"))
    push_timeout: float = 5.0
    push_tries: int = 3
    # WeChat retries once its 5 s wait is over, so an attempt starts this long after the previous
    # one started, however fast that failed; each retry is signed anew (a new timestamp and nonce).
    push_retry_interval: float = 5.0
    release_wait: float = 10.0  # seconds release check 3 waits for message/custom/send
    # The platform's IP whitelist (白名单IP地址列表): None checks nothing; a list refuses every API
    # call from another address with 61004, as WeChat does. Changeable at run time (control API).
    ip_whitelist: list[str] | None = None
    clock: Callable[[], float] = time.time
    accounts: list[MerchantAccount] | None = None  # None: seeded_accounts(seed)

    @property
    def web_origin(self) -> str:
        return self.web_domain or self.start_domain

    def merchant_accounts(self) -> list[MerchantAccount]:
        """The configured (or seeded) accounts plus the release test accounts."""
        accounts = list(self.accounts) if self.accounts is not None else seeded_accounts(self.seed)
        for test_account in RELEASE_TEST_ACCOUNTS:
            if all(a.appid != test_account.appid for a in accounts):
                accounts.append(test_account)
        return accounts
