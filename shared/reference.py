"""Reference data fixed by the policy: the 38 county-level divisions (GB/T 2260) and the 18 sectors."""

from dataclasses import dataclass
from typing import Literal

DistrictKind = Literal["district", "county", "autonomous_county"]


@dataclass(frozen=True, slots=True)
class District:
    code: str
    name: str
    kind: DistrictKind


@dataclass(frozen=True, slots=True)
class Sector:
    code: str
    name_zh: str
    name_en: str


def _kind(code: str) -> DistrictKind:
    if code.startswith("5001"):
        return "district"
    return "autonomous_county" if int(code) >= 500240 else "county"


_DISTRICT_NAMES = {
    "500101": "万州区",
    "500102": "涪陵区",
    "500103": "渝中区",
    "500104": "大渡口区",
    "500105": "江北区",
    "500106": "沙坪坝区",
    "500107": "九龙坡区",
    "500108": "南岸区",
    "500109": "北碚区",
    "500110": "綦江区",
    "500111": "大足区",
    "500112": "渝北区",
    "500113": "巴南区",
    "500114": "黔江区",
    "500115": "长寿区",
    "500116": "江津区",
    "500117": "合川区",
    "500118": "永川区",
    "500119": "南川区",
    "500120": "璧山区",
    "500151": "铜梁区",
    "500152": "潼南区",
    "500153": "荣昌区",
    "500154": "开州区",
    "500155": "梁平区",
    "500156": "武隆区",
    "500229": "城口县",
    "500230": "丰都县",
    "500231": "垫江县",
    "500233": "忠县",
    "500235": "云阳县",
    "500236": "奉节县",
    "500237": "巫山县",
    "500238": "巫溪县",
    "500240": "石柱土家族自治县",
    "500241": "秀山土家族苗族自治县",
    "500242": "酉阳土家族苗族自治县",
    "500243": "彭水苗族土家族自治县",
}

# The divisions' names in pinyin, as identifiers: the names of the district codes in generated clients' enums (a code
# starts with a digit, which no identifier may).
DISTRICT_IDENTIFIERS = {
    "500101": "WANZHOU",
    "500102": "FULING",
    "500103": "YUZHONG",
    "500104": "DADUKOU",
    "500105": "JIANGBEI",
    "500106": "SHAPINGBA",
    "500107": "JIULONGPO",
    "500108": "NANAN",
    "500109": "BEIBEI",
    "500110": "QIJIANG",
    "500111": "DAZU",
    "500112": "YUBEI",
    "500113": "BANAN",
    "500114": "QIANJIANG",
    "500115": "CHANGSHOU",
    "500116": "JIANGJIN",
    "500117": "HECHUAN",
    "500118": "YONGCHUAN",
    "500119": "NANCHUAN",
    "500120": "BISHAN",
    "500151": "TONGLIANG",
    "500152": "TONGNAN",
    "500153": "RONGCHANG",
    "500154": "KAIZHOU",
    "500155": "LIANGPING",
    "500156": "WULONG",
    "500229": "CHENGKOU",
    "500230": "FENGDU",
    "500231": "DIANJIANG",
    "500233": "ZHONGXIAN",
    "500235": "YUNYANG",
    "500236": "FENGJIE",
    "500237": "WUSHAN",
    "500238": "WUXI",
    "500240": "SHIZHU",
    "500241": "XIUSHAN",
    "500242": "YOUYANG",
    "500243": "PENGSHUI",
}

DISTRICTS: tuple[District, ...] = tuple(
    District(code=code, name=name, kind=_kind(code)) for code, name in _DISTRICT_NAMES.items()
)
DISTRICT_CODES: frozenset[str] = frozenset(_DISTRICT_NAMES)

# 一区两群: the city's regions, as the producer-services map (渝府发〔2024〕18号 第（二十三）条) groups its tiles.
Region = Literal["central", "new_main", "northeast", "southeast"]
REGION_NAMES: dict[Region, str] = {
    "central": "中心城区",
    "new_main": "主城新区",
    "northeast": "渝东北三峡库区城镇群",
    "southeast": "渝东南武陵山区城镇群",
}
_REGION_DISTRICTS: dict[Region, tuple[str, ...]] = {
    "central": ("500103", "500104", "500105", "500106", "500107", "500108", "500109", "500112", "500113"),
    "new_main": (
        "500102",
        "500110",
        "500111",
        "500115",
        "500116",
        "500117",
        "500118",
        "500119",
        "500120",
        "500151",
        "500152",
        "500153",
    ),
    "northeast": (
        "500101",
        "500154",
        "500155",
        "500229",
        "500230",
        "500231",
        "500233",
        "500235",
        "500236",
        "500237",
        "500238",
    ),
    "southeast": ("500114", "500156", "500240", "500241", "500242", "500243"),
}
DISTRICT_REGIONS: dict[str, Region] = {code: region for region, codes in _REGION_DISTRICTS.items() for code in codes}

# 渝府发〔2024〕18号 第二至四部分.
SECTORS: tuple[Sector, ...] = (
    Sector("tech_rnd", "科技研发服务", "Technology R&D services"),
    Sector("industrial_design", "工业设计", "Industrial design"),
    Sector("testing_inspection", "检验检测", "Testing and inspection"),
    Sector("smart_maintenance", "智能运维", "Intelligent operation and maintenance"),
    Sector("low_carbon_environmental", "低碳环保服务", "Low-carbon and environmental services"),
    Sector("engineering_technical", "工程技术服务", "Engineering and technical services"),
    Sector("integrated_contracting", "总集成总承包", "General integration and general contracting"),
    Sector("supply_chain", "供应链管理", "Supply chain management"),
    Sector("industrial_ecommerce", "产业电商", "Industrial e-commerce"),
    Sector("software_it", "软件信息服务", "Software and information services"),
    Sector("data_resources", "数据资源服务", "Data resource services"),
    Sector("producer_finance", "生产性金融", "Producer finance"),
    Sector("modern_logistics", "现代物流", "Modern logistics"),
    Sector("business_exhibitions", "商务会展", "Business services and exhibitions"),
    Sector("human_resources", "人力资源服务", "Human resources services"),
    Sector("producer_leasing", "生产性租赁", "Producer leasing"),
    Sector("accounting_audit_tax", "会计审计税务", "Accounting, auditing and tax"),
    Sector("legal_ip", "法律和知识产权", "Legal and intellectual property services"),
)
SECTOR_CODES: frozenset[str] = frozenset(sector.code for sector in SECTORS)

# 渝发改规范〔2024〕7号 第（二）条: the eight kinds of public service platform, with the term the text uses.
PLATFORM_DOMAINS: dict[str, str] = {
    "generic_technology_rnd": "共性技术研发",
    "achievement_transfer": "成果转化",
    "pilot_scale": "中试熟化",
    "industrial_design": "工业设计",
    "supply_chain": "供应链管理",
    "ip_operation": "知识产权运营",
    "brand_marketing": "品牌营销",
    "testing_certification": "检验检测认证",
}
PlatformDomain = Literal[
    "generic_technology_rnd",
    "achievement_transfer",
    "pilot_scale",
    "industrial_design",
    "supply_chain",
    "ip_operation",
    "brand_marketing",
    "testing_certification",
]

# Years the registry accepts figures for.
MIN_YEAR = 2000
MAX_YEAR = 2100
