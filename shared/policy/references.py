"""A reference into the policy texts: the document, the clause and the sentence quoted from it."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

MEASURES_DOCUMENT = "渝发改规范〔2024〕7号"
ACTION_PLAN_DOCUMENT = "渝府发〔2024〕18号"
Document = Literal["渝发改规范〔2024〕7号", "渝府发〔2024〕18号"]
# "第（一）条" … "第（十六）条" of the measures, or a part heading such as "七、附则".
Clause = Annotated[str, StringConstraints(pattern=r"^(第（[一二三四五六七八九十]+）条|[一二三四五六七八九十]+、\S+)$")]


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    document: Document
    clause: Clause
    # Verbatim from the vendored text once the PDF's line breaks and spaces are taken out (tests/policy checks it).
    quote: Annotated[str, StringConstraints(min_length=4)]

    @property
    def citation(self) -> str:
        """What a trace and the API show, e.g. 渝发改规范〔2024〕7号 第（二）条：投资额超过500万元的."""
        return f"{self.document} {self.clause}：{self.quote}"
