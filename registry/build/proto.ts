/**
 * The builder <-> manager gRPC contract (package buildman_pb, service BuildManager), written from the
 * reference's description of Quay's messages. Field numbers and names are the wire contract with Quay's
 * quay-builder; keep them. Loaded at run time from this text (no generated code, nothing to copy into dist).
 */
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

export const BUILDMAN_PROTO = `
syntax = "proto3";
package buildman_pb;

service BuildManager {
  rpc Ping (PingRequest) returns (PingReply);
  rpc RegisterBuildJob (BuildJobArgs) returns (BuildPack);
  rpc Heartbeat (stream HeartbeatRequest) returns (stream HeartbeatResponse);
  rpc SetPhase (SetPhaseRequest) returns (SetPhaseResponse);
  rpc LogMessage (stream LogMessageRequest) returns (stream LogMessageResponse);
  rpc DetermineCachedTag (CachedTagRequest) returns (CachedTag);
}

enum Phase {
  WAITING = 0;
  UNPACKING = 1;
  PULLING = 2;
  BUILDING = 3;
  PUSHING = 4;
  COMPLETE = 5;
  ERROR = 6;
}

message PingRequest {}
message PingReply { string reply = 1; }

message BuildJobArgs { string register_jwt = 1; }

message GitSource {
  string url = 1;
  string sha = 2;
  string private_key = 3;
}

message RegistryLogin {
  string username = 1;
  string password = 2;
}

message BuildPack {
  string job_jwt = 1;
  oneof build_pack {
    string package_url = 2;
    GitSource git_package = 3;
  }
  string context = 4;
  string dockerfile_path = 5;
  string repository = 6;
  string registry = 7;
  string pull_token = 8;
  string push_token = 9;
  repeated string tag_names = 10;
  RegistryLogin base_image = 11;
}

message HeartbeatRequest { string job_jwt = 1; }
message HeartbeatResponse { bool reply = 1; }

message PullMetadata {
  string registry_url = 1;
  string base_image = 2;
  string base_image_tag = 3;
  string pull_username = 4;
}

message SetPhaseRequest {
  string job_jwt = 1;
  int32 sequence_number = 2;
  Phase phase = 3;
  PullMetadata pull_metadata = 4;
}
message SetPhaseResponse {
  bool success = 1;
  int32 sequence_number = 2;
}

message LogMessageRequest {
  string job_jwt = 1;
  int32 sequence_number = 2;
  string log_message = 3;
  string phase = 4;
}
message LogMessageResponse {
  bool success = 1;
  int32 sequence_number = 2;
}

message CachedTagRequest {
  string job_jwt = 1;
  string base_image_name = 2;
  string base_image_tag = 3;
  string base_image_id = 4;
}
message CachedTag { string CachedTag = 1; }
`;

export type PhaseName = 'WAITING' | 'UNPACKING' | 'PULLING' | 'BUILDING' | 'PUSHING' | 'COMPLETE' | 'ERROR';

export interface BuildPackMessage {
  job_jwt: string;
  package_url?: string;
  git_package?: { url: string; sha: string; private_key: string };
  build_pack?: 'package_url' | 'git_package';
  context: string;
  dockerfile_path: string;
  repository: string;
  registry: string;
  pull_token: string;
  push_token: string;
  tag_names: string[];
  base_image?: { username: string; password: string } | null;
}

let cached: grpc.ServiceClientConstructor | null = null;

/** The BuildManager service (its definition for servers, a client constructor for workers). */
export function buildManagerService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const root = protobuf.parse(BUILDMAN_PROTO, { keepCase: true }).root;
  const def = fromJSON(root.toJSON(), { keepCase: true, enums: String, longs: Number, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { buildman_pb: { BuildManager: grpc.ServiceClientConstructor } };
  cached = pkg.buildman_pb.BuildManager;
  return cached;
}
