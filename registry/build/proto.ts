/**
 * The builder <-> manager gRPC contract (package buildman_pb, service BuildManager), written from the
 * reference's description of Quay's messages. Field numbers, names and types are the wire contract with
 * Quay's quay-builder; keep them. One table below is both the wire definition (handed to protobufjs as its
 * JSON descriptor at run time: no generated code) and, through the types derived from it, the TypeScript
 * shape of every message.
 */
import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const PHASES = ['WAITING', 'UNPACKING', 'PULLING', 'BUILDING', 'PUSHING', 'COMPLETE', 'ERROR'] as const;
export type PhaseName = (typeof PHASES)[number];

/** A field: [number, type] or [number, type, 'repeated']; a type is a scalar, `Phase` or a message name. */
type FieldSpec = readonly [number, string] | readonly [number, string, 'repeated'];

// Fields several messages share, written once.
const JOB_JWT = { job_jwt: [1, 'string'] } as const;
const SEQUENCED = { ...JOB_JWT, sequence_number: [2, 'int32'] } as const;
const SEQUENCED_REPLY = { success: [1, 'bool'], sequence_number: [2, 'int32'] } as const;

const MESSAGES = {
  PingRequest: {},
  PingReply: { reply: [1, 'string'] },
  BuildJobArgs: { register_jwt: [1, 'string'] },
  GitSource: { url: [1, 'string'], sha: [2, 'string'], private_key: [3, 'string'] },
  RegistryLogin: { username: [1, 'string'], password: [2, 'string'] },
  BuildPack: {
    ...JOB_JWT,
    package_url: [2, 'string'],
    git_package: [3, 'GitSource'],
    context: [4, 'string'],
    dockerfile_path: [5, 'string'],
    repository: [6, 'string'],
    registry: [7, 'string'],
    pull_token: [8, 'string'],
    push_token: [9, 'string'],
    tag_names: [10, 'string', 'repeated'],
    base_image: [11, 'RegistryLogin'],
  },
  HeartbeatRequest: JOB_JWT,
  HeartbeatResponse: { reply: [1, 'bool'] },
  PullMetadata: { registry_url: [1, 'string'], base_image: [2, 'string'], base_image_tag: [3, 'string'], pull_username: [4, 'string'] },
  SetPhaseRequest: { ...SEQUENCED, phase: [3, 'Phase'], pull_metadata: [4, 'PullMetadata'] },
  SetPhaseResponse: SEQUENCED_REPLY,
  LogMessageRequest: { ...SEQUENCED, log_message: [3, 'string'], phase: [4, 'string'] },
  LogMessageResponse: SEQUENCED_REPLY,
  CachedTagRequest: { ...JOB_JWT, base_image_name: [2, 'string'], base_image_tag: [3, 'string'], base_image_id: [4, 'string'] },
  CachedTag: { CachedTag: [1, 'string'] },
} as const satisfies Record<string, Record<string, FieldSpec>>;

/** BuildPack's oneof: the source is a package URL or a git repository. */
const ONEOFS: Partial<Record<keyof typeof MESSAGES, Record<string, readonly string[]>>> = { BuildPack: { build_pack: ['package_url', 'git_package'] } };

/** [request, response, streaming both ways]. */
const METHODS = {
  Ping: ['PingRequest', 'PingReply'],
  RegisterBuildJob: ['BuildJobArgs', 'BuildPack'],
  Heartbeat: ['HeartbeatRequest', 'HeartbeatResponse', 'stream'],
  SetPhase: ['SetPhaseRequest', 'SetPhaseResponse'],
  LogMessage: ['LogMessageRequest', 'LogMessageResponse', 'stream'],
  DetermineCachedTag: ['CachedTagRequest', 'CachedTag'],
} as const satisfies Record<string, readonly [keyof typeof MESSAGES, keyof typeof MESSAGES, 'stream'?]>;

type Messages = typeof MESSAGES;
type Scalars = { string: string; bool: boolean; int32: number; Phase: PhaseName };
type ValueOf<T> = T extends keyof Scalars ? Scalars[T] : T extends keyof Messages ? Message<T> | null : never;
type FieldValue<F> = F extends readonly [number, infer T, 'repeated'] ? ValueOf<T>[] : F extends readonly [number, infer T] ? ValueOf<T> : never;
/** A message as the loader decodes it (message-typed fields may be null, as proto3 leaves them unset). */
export type Message<N extends keyof Messages> = { -readonly [K in keyof Messages[N]]: FieldValue<Messages[N][K]> };

/** The BuildPack: one of package_url / git_package is set, `build_pack` names which when decoded. */
export type BuildPackMessage = Omit<Message<'BuildPack'>, 'package_url' | 'git_package'> & {
  package_url?: string;
  git_package?: Message<'GitSource'> | null;
  build_pack?: 'package_url' | 'git_package';
};

/** The protobufjs JSON descriptor of the table. */
function descriptor(): protobuf.INamespace {
  const nested: Record<string, protobuf.AnyNestedObject> = { Phase: { values: Object.fromEntries(PHASES.map((p, i) => [p, i])) } };
  for (const [name, fields] of Object.entries(MESSAGES) as [keyof Messages, Record<string, FieldSpec>][]) {
    nested[name] = {
      fields: Object.fromEntries(Object.entries(fields).map(([field, [id, type, rule]]) => [field, { id, type, ...(rule ? { rule } : {}) }])),
      ...(ONEOFS[name] ? { oneofs: Object.fromEntries(Object.entries(ONEOFS[name]!).map(([o, members]) => [o, { oneof: [...members] }])) } : {}),
    };
  }
  nested.BuildManager = {
    methods: Object.fromEntries(
      Object.entries(METHODS).map(([m, [requestType, responseType, stream]]: readonly [string, readonly string[]]) => [
        m,
        { requestType, responseType, comment: '', ...(stream ? { requestStream: true, responseStream: true } : {}) },
      ]),
    ),
  };
  return { nested: { buildman_pb: { nested } } };
}

let cached: grpc.ServiceClientConstructor | null = null;

/** The BuildManager service (its definition for servers, a client constructor for workers). */
export function buildManagerService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const root = protobuf.Root.fromJSON(descriptor());
  const def = fromJSON(root.toJSON(), { keepCase: true, enums: String, longs: Number, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { buildman_pb: { BuildManager: grpc.ServiceClientConstructor } };
  cached = pkg.buildman_pb.BuildManager;
  return cached;
}
