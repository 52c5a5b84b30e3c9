// The same client with deliberate mistakes: the test requires tsc to reject every line marked wrong, and
// nothing else, so a document that types these things loosely (facts or rows as free-form objects, codes as
// any string, problems open to any field) makes the test fail.
import createClient from "openapi-fetch";
import type { HeaderOf, Responses } from "./client";
import type { paths } from "./schema";

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export async function mistakes(): Promise<string> {
  await api.POST("/api/v1/eligibility/calculate", {
    body: {
      measure_id: "M13",
      as_of: "2025-06-30",
      facts: { verified_investment_yuan: "800000.00", special_major_approved: false }, // wrong: M01's facts for M13
    },
  });
  await api.POST("/api/v1/eligibility/calculate", {
    body: { measure_id: "M99", as_of: "2025-06-30", facts: {} }, // wrong: no such measure
  });
  await api.POST("/api/v1/registry/enterprises/import", {
    body: [
      {
        uscc: "91500103MA5U7AB2CH",
        name: "重庆示例咨询有限公司",
        district_code: "500103",
        sector: "software_it",
        established_on: "2020-01-02",
        turnover_yuan: "1.00", // wrong: no such column
      },
    ],
  });
  const { error } = await api.GET("/api/v1/registry/enterprises", {
    params: { query: { district_code: "500199" } }, // wrong: not one of the 38 districts
  });
  const etag: HeaderOf<Responses<"/api/v1/registry/enterprises", "get">[200]> = "ETag"; // wrong: a page has none
  return error ? `${error.standing_award}` : etag; // wrong: a listing's problems have no standing award
}
