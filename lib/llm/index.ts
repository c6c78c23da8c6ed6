export * from "./types";
export * from "./config";
export * from "./cache";
export * from "./client";
export * from "./cost";
export * from "./rate-limit";
export * from "./retry";
export * from "./signals";
