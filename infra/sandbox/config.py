"""The sandbox's configuration and its seeded merchant accounts."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from infra.local.devconfig import GATEWAY_PORT, SANDBOX_PORT, component_settings

OFFICIAL_ACCOUNT = "official_account"
MINI_PROGRAM = "mini_program"
# Newer account kinds (api_get_authorizer_info: channels_info, store_info, talent_info): no
# service_type_info / verify_type_info, and no Official Account or Mini Program APIs.
CHANNELS = "channels"  # 视频号, auth_type 5
STORE = "store"  # 微信小店
TALENT = "talent"  # 带货助手, auth_type 8
KINDS = (OFFICIAL_ACCOUNT, MINI_PROGRAM, CHANNELS, STORE, TALENT)

# Permission-set ids (funcscope_category) granted by default. Official Accounts: 1 message
# management (the customer-service send API is in it), 4 web pages (JS-SDK, web login). Mini
# Programs: 19 customer-service messages. The Channels, shop and talent ids are illustrative.
OFFICIAL_FUNC_INFO: tuple[int, ...] = (1, 2, 3, 4, 6, 7, 11, 15)
MINI_FUNC_INFO: tuple[int, ...] = (17, 18, 19, 25, 30, 31, 36, 37)
CHANNELS_FUNC_INFO: tuple[int, ...] = (175,)
STORE_FUNC_INFO: tuple[int, ...] = (129, 130, 131, 132)
TALENT_FUNC_INFO: tuple[int, ...] = (160,)
_DEFAULT_FUNC_INFO = {
    OFFICIAL_ACCOUNT: OFFICIAL_FUNC_INFO,
    MINI_PROGRAM: MINI_FUNC_INFO,
    CHANNELS: CHANNELS_FUNC_INFO,
    STORE: STORE_FUNC_INFO,
    TALENT: TALENT_FUNC_INFO,
}
# The permission set each API needs, by account kind (docs/sandbox.md, "Permission sets").
CUSTOMER_SERVICE_SETS = {OFFICIAL_ACCOUNT: 1, MINI_PROGRAM: 19}
WEB_PAGES_SET = 4  # an Official Account's 网页服务权限: JS-SDK tickets


@dataclass(frozen=True)
class MerchantAccount:
    """One account a merchant admin can authorize on the sandbox's authorization page."""

    appid: str
    user_name: str
    nick_name: str
    kind: str  # one of KINDS
    principal_name: str
    alias: str = ""
    service_type: int = 2  # official accounts: 0 subscription, 1 upgraded, 2 service; mini programs 0
    verify_type: int = 0  # 0 WeChat-verified, -1 not verified
    func_info: tuple[int, ...] = ()
    # WeChat returns the authorizer's tokens only "when the account has API permission"
    # (api_query_auth's page); without it the grant carries func_info and no token.
    api_permission: bool = True

    @property
    def is_mini_program(self) -> bool:
        return self.kind == MINI_PROGRAM

    @property
    def is_official_account(self) -> bool:
        return self.kind == OFFICIAL_ACCOUNT

    @property
    def permissions(self) -> tuple[int, ...]:
        if self.func_info:
            return self.func_info
        return _DEFAULT_FUNC_INFO.get(self.kind, OFFICIAL_FUNC_INFO)

    @property
    def kind_label(self) -> str:
        return _KIND_LABELS.get(self.kind, self.kind)


_KIND_LABELS = {
    OFFICIAL_ACCOUNT: "公众号 Official Account",
    MINI_PROGRAM: "小程序 Mini Program",
    CHANNELS: "视频号 Channels",
    STORE: "微信小店 Shop",
    TALENT: "带货助手 Talent",
}


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

# Appended, never reordered: an account's appid is drawn in this order, so for a given seed the
# earlier accounts keep theirs whatever is added after them.
_SEED_ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    ("星河咖啡 Galaxy Coffee", OFFICIAL_ACCOUNT, "星河咖啡有限公司 Galaxy Coffee Ltd.", "galaxycoffee"),
    ("青木书店 Aoki Books", OFFICIAL_ACCOUNT, "青木文化传媒 Aoki Media Co.", "aokibooks"),
    ("晨光健身 Morning Fitness", OFFICIAL_ACCOUNT, "晨光体育 Morning Sports Co.", "morningfit"),
    ("小鹿点餐 Fawn Order", MINI_PROGRAM, "小鹿餐饮科技 Fawn Catering Tech", ""),
    ("云朵快递 Cloud Express", MINI_PROGRAM, "云朵物流 Cloud Logistics Co.", ""),
    ("老街面馆 Old Street Noodles", OFFICIAL_ACCOUNT, "老街面馆 Old Street Noodles (individual)", ""),
    ("星河咖啡视频号 Galaxy Coffee Channels", CHANNELS, "星河咖啡有限公司 Galaxy Coffee Ltd.", ""),
    ("青木小店 Aoki Shop", STORE, "青木文化传媒 Aoki Media Co.", ""),
    ("晨光带货助手 Morning Talent", TALENT, "晨光体育 Morning Sports Co.", ""),
)
NO_API_PERMISSION_INDEX = 5  # 老街面馆: an unverified subscription account without API permission


def seeded_accounts(seed: int) -> list[MerchantAccount]:
    """Three Official Accounts and two Mini Programs, then an Official Account without API
    permission, a Channels account, a shop and a talent account; the same for the same seed."""
    rng = random.Random(f"sandbox-accounts:{seed}")  # noqa: S311 - deterministic on purpose
    accounts = []
    for index, (name, kind, principal, alias) in enumerate(_SEED_ACCOUNTS):
        no_api = index == NO_API_PERMISSION_INDEX
        accounts.append(
            MerchantAccount(
                appid="wx" + "".join(rng.choice("0123456789abcdef") for _ in range(16)),
                user_name="gh_" + "".join(rng.choice("0123456789abcdef") for _ in range(12)),
                nick_name=name,
                kind=kind,
                principal_name=principal,
                alias=alias,
                service_type=2 if kind == OFFICIAL_ACCOUNT and not no_api else 0,
                verify_type=-1 if index == 2 or no_api else 0,
                api_permission=not no_api,
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
    # Before the full-network release only the accounts on the platform's test list (授权测试公众号/
    # 小程序列表) may authorize; None: every configured account is on it (make dev's default, so a
    # newcomer's flow works unreleased). WeChat's release-test accounts may always authorize.
    released: bool = False
    test_accounts: list[str] | None = None
    # getticket: "new" issues a new ticket every call (the previous lives 5 more minutes); "same"
    # returns the live ticket again with expires_in 7200 (reported by developers, never documented).
    ticket_mode: str = "new"
    # The platform's IP whitelist (白名单IP地址列表): None checks nothing; a list refuses every API
    # call from another address with 61004, as WeChat does. Changeable at run time (control API).
    ip_whitelist: list[str] | None = None
    # Daily limits by API name, over the defaults (state/quotas.py: WeChat's published figures
    # where there are, else choices): a test reaches 45009 in two calls rather than thousands.
    daily_quotas: dict[str, int] | None = None
    # A second listener, WeChat's disaster-recovery host (api2.weixin.qq.com): None, none; 0, any
    # free port. Either listener can be taken down (`POST /sandbox/listeners`): its port then
    # refuses connections, as an unreachable host does.
    dr_port: int | None = None
    clock: Callable[[], float] = time.time
    accounts: list[MerchantAccount] | None = None  # None: seeded_accounts(seed)
    # Where the sandbox says, a line at a time, what a person watching should see (the release
    # checks' outcome): make dev's console, the standalone sandbox's stdout; None: nowhere.
    report: Callable[[str], None] | None = None

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
