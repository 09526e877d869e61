/** The policy resources as the API answers them; shared by the audit pages and the policy pages. */

export interface PolicyCategory {
  code: string;
  name: string;
  description: string;
}

export interface PolicySummary {
  slug: string;
  title: string;
  description: string;
  latest_version: number | null;
  published_version: number | null;
  created_at: string;
}

export interface PolicyVersion {
  number: number;
  sha256: string;
  source: string;
  categories: PolicyCategory[];
  author: string | null;
  message: string;
  parent: number | null;
  created_at: string;
}
