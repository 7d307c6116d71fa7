/** The Coordination contract (./coordination.contract.ts): LocalCoordination, and RedisCoordination on a real redis-server. */
import { randomUUID } from "node:crypto";
import { after, before } from "node:test";
import { LocalCoordination } from "../../src/registry/coordination.ts";
import { RedisCoordination } from "../../src/registry/redis-coordination.ts";
import { type RedisProcess, startRedis } from "../catalog/redis.ts";
import { coordinationContract } from "./coordination.contract.ts";

coordinationContract("LocalCoordination", async () => {
  const coordination = new LocalCoordination();
  return { coordination, cleanup: () => coordination.close() };
});

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis?.stop();
});

coordinationContract("RedisCoordination (redis-server)", async () => {
  // A fresh prefix per test: tests share one server but never each other's keys or channel.
  const coordination = new RedisCoordination({ url: redis.url, keyPrefix: `test:${randomUUID()}:` });
  await coordination.ready();
  return { coordination, cleanup: () => coordination.close() };
});
