"""Compliance frameworks the rules serve, with the section each rule maps to."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    name: str
    reference: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name} {self.reference}"


def nydfs(section: str) -> Framework:
    return Framework("NYDFS 23 NYCRR 500", section, "2023 amendment")


def naic(letter: str) -> Framework:
    return Framework("NAIC Insurance Data Security Model Law #668", f"4D(2)({letter})")


def glba(paragraph: str) -> Framework:
    return Framework("GLBA Safeguards Rule", f"16 CFR 314.4(c)({paragraph})")


def cis_eks(item: str) -> Framework:
    return Framework("CIS Amazon EKS Benchmark", item, "1.8.0")


def cis_aws(item: str) -> Framework:
    return Framework("CIS AWS Foundations Benchmark", item, "3.0.0")


def fsbp(control: str) -> Framework:
    return Framework("AWS Foundational Security Best Practices", control)


def residency_law() -> Framework:
    return Framework("Contractual and statutory data residency", "tenant residency schedule")
