/**
 * The agent card of a registered agent (SPEC §12): what an A2A client discovers at
 * `/a2a/:agent/.well-known/agent-card.json` before it sends anything.
 */
import { AgentCard } from "@a2a-js/sdk";
import type { AgentSpec } from "../contracts";

export const A2A_SECURITY_SCHEME = "bearer";

/**
 * `baseUrl` is the agent's JSON-RPC endpoint (`…/a2a/<agent>/`). The interface is advertised for
 * protocol 1.0 and again for 0.3 (same URL: the endpoint tells them apart by the `A2A-Version`
 * header, or by the method name when a client sends none).
 */
export function agentCard(spec: AgentSpec, baseUrl: string): AgentCard {
  const description = spec.description.trim() || `Agent ${spec.name} of Agent Kernel.`;
  const jsonRpc = (protocolVersion: string) => ({ url: baseUrl, protocolBinding: "JSONRPC", tenant: "", protocolVersion });
  return {
    name: spec.name,
    description,
    supportedInterfaces: [jsonRpc("1.0"), jsonRpc("0.3")],
    provider: undefined,
    version: "0.1.0",
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {
      [A2A_SECURITY_SCHEME]: {
        scheme: {
          $case: "httpAuthSecurityScheme",
          value: {
            scheme: "Bearer",
            bearerFormat: "JWT",
            description: "The kernel's HS256 JWT (the same token as the HTTP API): sub = tenant, role = viewer | operator | admin. Viewers may read tasks; sending and canceling need operator.",
          },
        },
      },
    },
    securityRequirements: [{ schemes: { [A2A_SECURITY_SCHEME]: { list: [] } } }],
    defaultInputModes: ["text/plain"],
    defaultOutputModes: ["text/plain"],
    skills: [
      {
        id: spec.name,
        name: spec.name,
        description,
        tags: [spec.mode, spec.model.split(":")[0]!],
        examples: [],
        inputModes: ["text/plain"],
        outputModes: ["text/plain"],
        securityRequirements: [],
      },
    ],
    signatures: [],
  };
}

/** The card as JSON (the SDK's own serializer: the 1.0 wire shape). */
export const agentCardJson = (spec: AgentSpec, baseUrl: string): unknown => AgentCard.toJSON(agentCard(spec, baseUrl));
