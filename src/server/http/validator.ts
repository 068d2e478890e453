/**
 * Schema validation for the API: JSON bodies are validated *without* type coercion, so
 * `"action": 123` is a 400 instead of silently becoming `"123"`; querystrings, params and
 * headers keep Fastify's coercion (`?wait=1.5` is a number). Same Ajv setup as Fastify's own.
 */
import { AjvCompiler } from '@fastify/ajv-compiler'
import type { FastifyServerOptions } from 'fastify'

type BuildValidator = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>

const buildFromPool = AjvCompiler()

/** A `schemaController.compilersFactory.buildValidator` with strict JSON bodies. */
export const buildStrictBodyValidator: BuildValidator = (externalSchemas, ajvOptions) => {
  const coercing = buildFromPool(externalSchemas, ajvOptions)
  const strictOptions = { ...ajvOptions, customOptions: { ...ajvOptions?.customOptions, coerceTypes: false } } as typeof ajvOptions
  const strict = buildFromPool(externalSchemas, strictOptions)
  return (route) => (route.httpPart === 'body' ? strict(route) : coercing(route))
}
