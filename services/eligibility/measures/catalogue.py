"""The catalogue: every measure of 渝发改规范〔2024〕7号, （七） in three parts, with its lead department."""

from dataclasses import dataclass
from typing import Literal

from services.eligibility.rules.base import clause

Recipient = Literal[
    "project_owner",
    "platform_owner",
    "cluster_manager",
    "cluster_residents",
    "building_operator",
    "district",
    "enterprise",
    "industry_association",
    "enterprises_and_projects",
]
SubjectType = Literal["project", "cluster", "building", "enterprise", "district"]
Frequency = Literal["one_off", "yearly", "per_event", "not_monetary"]

NDRC_ZH, NDRC_EN = "市发展改革委", "Chongqing Development and Reform Commission"
FINANCE_ZH, FINANCE_EN = "市委金融办", "Financial Affairs Office of the CPC Chongqing Committee"
HRSS_ZH, HRSS_EN = "市人力社保局", "Chongqing Human Resources and Social Security Bureau"
LAND_ZH, LAND_EN = "市规划自然资源局", "Chongqing Planning and Natural Resources Bureau"


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    clause: str
    title_zh: str
    title_en: str
    computable: bool
    recipient: Recipient
    subject_type: SubjectType | None
    frequency: Frequency
    lead_department_zh: str
    lead_department_en: str
    summary_en: str

    @property
    def citation(self) -> str:
        return clause(self.clause.strip("（）"))


MEASURES: tuple[Measure, ...] = (
    Measure(
        "M01",
        "（一）",
        "现代生产性服务业项目一次性补助",
        "One-off grant to producer-service projects",
        True,
        "project_owner",
        "project",
        "one_off",
        NDRC_ZH,
        NDRC_EN,
        "10% of the verified investment, at most 5,000,000; up to 20,000,000 for a special major project "
        "approved by the city government.",
    ),
    Measure(
        "M02",
        "（二）",
        "公共服务平台建设补助",
        "Grant for building public service platforms",
        True,
        "platform_owner",
        "project",
        "one_off",
        NDRC_ZH,
        NDRC_EN,
        "For a platform in a listed domain with an investment above 5,000,000: 20% of it, at most 5,000,000.",
    ),
    Measure(
        "M03",
        "（三）",
        "A等级集聚区分档奖励",
        "Tiered reward for clusters graded A",
        True,
        "cluster_manager",
        "cluster",
        "yearly",
        NDRC_ZH,
        NDRC_EN,
        "A cluster graded A in the yearly evaluation receives its tier's amount, 2,000,000 to 10,000,000.",
    ),
    Measure(
        "M04",
        "（四）",
        "集聚区入驻项目、平台和企业支持",
        "Funds, talent and land for residents of clusters",
        False,
        "cluster_residents",
        "enterprise",
        "not_monetary",
        NDRC_ZH,
        NDRC_EN,
        "Projects, platforms and enterprises located in a cluster are supported with funds, talent and land, "
        "and recommended for central budget funds, special bonds and national pilots.",
    ),
    Measure(
        "M05",
        "（五）",
        "星级楼宇定额奖励",
        "Fixed reward for star buildings",
        True,
        "building_operator",
        "building",
        "yearly",
        NDRC_ZH,
        NDRC_EN,
        "The operator of a star building whose yearly revenue grew fast receives 1,000,000 or 500,000.",
    ),
    Measure(
        "M06",
        "（六）",
        "区县培育规上生产性服务业企业综合评价奖励",
        "Reward for the ten districts best at fostering above-size producer-service enterprises",
        True,
        "district",
        "district",
        "yearly",
        NDRC_ZH,
        NDRC_EN,
        "Ranks 1–5 of the yearly composite evaluation receive 5,000,000 each, ranks 6–10 3,000,000 each.",
    ),
    Measure(
        "M07a",
        "（七）",
        "首次入选中国服务业企业500强奖励",
        "Reward for an enterprise first listed in the China top-500 service enterprises",
        True,
        "district",
        "enterprise",
        "one_off",
        NDRC_ZH,
        NDRC_EN,
        "The district receives up to 5,000,000 for each producer-service enterprise listed for the first time.",
    ),
    Measure(
        "M07b",
        "（七）",
        "主辅分离新设生产性服务业企业奖励",
        "Reward for producer-service enterprises spun off by manufacturers",
        True,
        "enterprise",
        "enterprise",
        "one_off",
        NDRC_ZH,
        NDRC_EN,
        "A producer-service enterprise newly set up by a manufacturer's spin-off, with yearly revenue of "
        "20,000,000 or more, receives a one-off reward of up to 1,000,000.",
    ),
    Measure(
        "M07c",
        "（七）",
        "行业协会培育奖励",
        "Reward for industry associations fostering leading firms",
        False,
        "industry_association",
        None,
        "not_monetary",
        NDRC_ZH,
        NDRC_EN,
        "Industry associations receive a reward (amount unstated) for fostering leading enterprises, "
        "flagship projects and brands.",
    ),
    Measure(
        "M08",
        "（八）",
        "政府投资基金和股权投资支持",
        "Government investment funds and equity investment",
        False,
        "enterprises_and_projects",
        "enterprise",
        "not_monetary",
        FINANCE_ZH,
        FINANCE_EN,
        "Government investment funds, angel, venture and private-equity investors support producer-service "
        "enterprises, projects and clusters, patient capital above all for start-up and growth stages.",
    ),
    Measure(
        "M09",
        "（九）",
        "针对性融资产品",
        "Tailored financing products",
        False,
        "enterprises_and_projects",
        "enterprise",
        "not_monetary",
        FINANCE_ZH,
        FINANCE_EN,
        "Banks, guarantors and insurers develop products for producer services: movable-asset and IP-pledge "
        "loans, 科创贷, relending and rediscount products.",
    ),
    Measure(
        "M10",
        "（十）",
        "优化金融服务、降低融资成本",
        "Better financial services and lower financing costs",
        False,
        "enterprises_and_projects",
        "enterprise",
        "not_monetary",
        FINANCE_ZH,
        FINANCE_EN,
        "Risk-sharing and compensation, faster loan approval and regulated intermediary fees lower the "
        "financing costs of producer-service enterprises.",
    ),
    Measure(
        "M11",
        "（十一）",
        "就业创业支持",
        "Employment and entrepreneurship support",
        False,
        "enterprise",
        "enterprise",
        "not_monetary",
        HRSS_ZH,
        HRSS_EN,
        "Unemployment-insurance, employment-subsidy and tax policies for labour- and knowledge-intensive "
        "services (software, law, accounting, consulting, design) and producer-service SMEs.",
    ),
    Measure(
        "M12",
        "（十二）",
        "人才保障",
        "Talent",
        False,
        "enterprise",
        "enterprise",
        "not_monetary",
        HRSS_ZH,
        HRSS_EN,
        "A catalogue of scarce talent, recognition of leading talent, 揭榜挂帅/揭榜招贤 recruitment of "
        "high-level talent and teams, training of high-end talent.",
    ),
    Measure(
        "M13",
        "（十三）",
        "生产性服务业活动平台补助",
        "Grant for producer-service events",
        True,
        "project_owner",
        "project",
        "per_event",
        NDRC_ZH,
        NDRC_EN,
        "A qualifying event or activity platform receives 30% of its actual spend, at most 1,000,000.",
    ),
    Measure(
        "M14",
        "（十四）",
        "行业协会发展支持",
        "Support for industry associations",
        False,
        "industry_association",
        None,
        "not_monetary",
        NDRC_ZH,
        NDRC_EN,
        "Government purchase of services from associations, exchange platforms for associations and "
        "chambers, brand and capacity building, self-regulation and standards.",
    ),
    Measure(
        "M15",
        "（十五）",
        "开放合作",
        "Opening-up and cooperation",
        False,
        "enterprise",
        "enterprise",
        "not_monetary",
        NDRC_ZH,
        NDRC_EN,
        "Platforms for enterprises going out and coming in, through Chongqing–Singapore, Chongqing–Hong Kong, "
        "RCEP, Chengdu–Chongqing and Chongqing–Shandong cooperation.",
    ),
    Measure(
        "M16",
        "（十六）",
        "用地保障",
        "Land supply",
        False,
        "enterprise",
        "enterprise",
        "not_monetary",
        LAND_ZH,
        LAND_EN,
        "Flexible land supply (long lease, lease-then-sell, flexible terms) and the use of existing industrial "
        "buildings and land for producer services.",
    ),
)

MEASURES_BY_ID: dict[str, Measure] = {measure.id: measure for measure in MEASURES}
COMPUTABLE_IDS: tuple[str, ...] = tuple(measure.id for measure in MEASURES if measure.computable)
