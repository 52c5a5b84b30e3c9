// A front-end's use of the API through the client generated from the merged document (openapi-typescript +
// openapi-fetch), compiled by tests/contract/test_contract.py with `tsc --strict`. It must compile as written:
// no type assertions, no `any`, no non-null assertions. `./schema` is generated next to it by the test.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Schemas = components["schemas"];
// The response headers a program reads are documented: openapi-fetch hands them over as plain `Headers`, so their
// names are typed here from each response's `headers` (without the index signature every response has).
export type Named<T> = keyof { [Key in keyof T as string extends Key ? never : Key]: T[Key] };
export type HeaderOf<Response> = Response extends { headers: infer Headers } ? Named<Headers> & string : never;
export type Responses<Path extends keyof paths, Method extends "get" | "post" | "patch"> =
  paths[Path][Method] extends { responses: infer All } ? All : never;
type ImportRows = paths["/api/v1/registry/enterprises/import"]["post"]["requestBody"]["content"]["application/json"];
// The problem a POST documents for 409 (never, so nothing is assignable to it, when it documents none).
type ConflictOf<Path extends keyof paths> =
  Responses<Path, "post"> extends { 409: { content: { "application/problem+json": infer Problem } } } ? Problem : never;
type AwardNotHigher = ConflictOf<"/api/v1/eligibility/awards">;
type AwardStepRefused = ConflictOf<"/api/v1/eligibility/awards/{award_id}/transitions">;

export function connect(apiKey: string) {
  return createClient<paths>({
    baseUrl: "http://127.0.0.1:8000",
    headers: { Authorization: `Bearer ${apiKey}` },
  });
}

type Api = ReturnType<typeof connect>;

// Every page of a district's enterprises: `next_cursor` until it is null.
export async function enterpriseNames(api: Api, district: Schemas["DistrictCode"]): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const { data, error } = await api.GET("/api/v1/registry/enterprises", {
      params: { query: { district_code: district, limit: 500, cursor } },
    });
    if (error) {
      throw new Error(`${error.status} ${error.title}: ${error.detail}`);
    }
    for (const enterprise of data.items) {
      names.push(`${enterprise.uscc} ${enterprise.name}`);
    }
    cursor = data.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return names;
}

export async function registerEnterprise(api: Api): Promise<string> {
  const sector: Schemas["SectorCode"] = "software_it";
  const { data, error, response } = await api.POST("/api/v1/registry/enterprises", {
    body: {
      uscc: "91500103MA5U7AB1CG",
      name: "重庆示例软件有限公司",
      district_code: "500103",
      sector,
      established_on: "2021-03-15",
    },
  });
  if (error) {
    const fields = (error.errors ?? []).map((field) => `${field.loc.join(".")}: ${field.msg}`);
    throw new Error(`${error.title} (${response.status}) ${fields.join("; ")}`);
  }
  // 201: the enterprise, at `Location`; 202: a registration the city confirms first.
  const location: HeaderOf<Responses<"/api/v1/registry/enterprises", "post">[201]> = "Location";
  if (response.status === 202 && "requested_by" in data) {
    return `held for confirmation: ${data.id}`;
  }
  return response.headers.get(location) ?? data.uscc;
}

// A change made with the ETag read: a 412 when someone changed the enterprise in between.
export async function rename(api: Api, uscc: string, name: string): Promise<boolean> {
  const path = { params: { path: { uscc } } };
  const read = await api.GET("/api/v1/registry/enterprises/{uscc}", path);
  const etag: HeaderOf<Responses<"/api/v1/registry/enterprises/{uscc}", "get">[200]> = "ETag";
  const tag = read.response.headers.get(etag);
  if (read.error || tag === null) {
    return false;
  }
  const { error, response } = await api.PATCH("/api/v1/registry/enterprises/{uscc}", {
    params: { path: { uscc }, header: { "If-Match": tag } },
    body: { name },
  });
  if (response.status === 412) {
    return false;
  }
  if (error) {
    throw new Error(error.detail);
  }
  return true;
}

export async function importRows(api: Api): Promise<number> {
  const rows: ImportRows = [
    {
      uscc: "91500103MA5U7AB2CH",
      name: "重庆示例咨询有限公司",
      district_code: "500103",
      sector: "software_it",
      established_on: "2020-01-02",
      year: 2024,
      revenue_yuan: "12000000.00",
      employees: 85,
      above_scale: true,
    },
  ];
  const { data, error, response } = await api.POST("/api/v1/registry/enterprises/import", {
    params: { query: { atomic: true }, header: { "Idempotency-Key": "import-2024-500103-1" } },
    body: rows,
  });
  if (error) {
    throw new Error(error.detail);
  }
  const replayed: HeaderOf<Responses<"/api/v1/registry/enterprises/import", "post">[200]> = "Idempotent-Replayed";
  if (response.headers.get(replayed) === "true") {
    console.log("a retry: the first answer, replayed");
  }
  // A large body (or `Prefer: respond-async`) is answered with a job (202): its report is the job's result.
  if (!("rejected" in data)) {
    console.log(`imported by job ${data.id}: ${data.status}, ${data.progress.done} rows so far`);
    return 0;
  }
  for (const rejected of data.rejected) {
    console.log(`row ${rejected.row}: ${rejected.errors.map((field) => field.msg).join("; ")}`);
  }
  return data.created + data.updated;
}

// Each measure's facts are typed by the measure: M01 reads the verified investment, M13 the actual spend.
export async function grants(api: Api): Promise<string[]> {
  const project = await api.POST("/api/v1/eligibility/calculate", {
    body: {
      measure_id: "M01",
      as_of: "2025-06-30",
      facts: { verified_investment_yuan: "30000000.00", special_major_approved: false },
    },
  });
  const event = await api.POST("/api/v1/eligibility/calculate", {
    body: { measure_id: "M13", as_of: "2025-06-30", facts: { actual_spend_yuan: "800000.00" } },
  });
  const amounts: string[] = [];
  for (const { data, error } of [project, event]) {
    if (error) {
      throw new Error(error.detail);
    }
    amounts.push(data.eligible ? data.amount_yuan : data.reasons.map((reason) => reason.code).join(", "));
  }
  return amounts;
}

// A second proposal for a subject that already holds an award: the 409 names the standing award. A step the
// award's status does not allow: the 409 names the actions that are allowed.
export async function propose(api: Api): Promise<string> {
  const { data, error, response } = await api.POST("/api/v1/eligibility/awards", {
    body: {
      measure_id: "M01",
      subject_type: "project",
      subject_id: "2024-500103-65-03-012345",
      amount_yuan: "1200000.00",
    },
  });
  if (data) {
    return `proposed ${data.id}`;
  }
  if (response.status === 409 && "standing_award" in error) {
    const conflict: AwardNotHigher = error;
    const standing: Schemas["StandingAward"] | null | undefined = conflict.standing_award;
    return standing ? `award ${standing.id} (${standing.amount_yuan}, ${standing.status}) stands` : conflict.detail;
  }
  return `${error.status}: ${error.detail}`;
}

export async function approve(api: Api, awardId: number): Promise<Schemas["AwardAction"][]> {
  const { data, error, response } = await api.POST("/api/v1/eligibility/awards/{award_id}/transitions", {
    params: { path: { award_id: awardId } },
    body: { action: "approve" },
  });
  if (data) {
    return [];
  }
  if (response.status === 409 && "allowed_actions" in error) {
    const refused: AwardStepRefused = error;
    const status: Schemas["AwardStatus"] = refused.current_status;
    console.log(`award ${refused.award_id} is ${status}`);
    return refused.allowed_actions ?? [];
  }
  throw new Error(error.detail);
}

export async function downloadAwards(api: Api): Promise<{ name: string; file: Blob }> {
  const { data, error, response } = await api.GET("/api/v1/eligibility/awards/export.xlsx", {
    params: { query: { district_code: "500103" } },
    parseAs: "blob",
  });
  if (error) {
    throw new Error(error.detail);
  }
  const header: HeaderOf<Responses<"/api/v1/eligibility/awards/export.xlsx", "get">[200]> = "Content-Disposition";
  const disposition = response.headers.get(header) ?? "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? "awards.xlsx";
  return { name, file: data };
}
