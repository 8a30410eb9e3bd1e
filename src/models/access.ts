/**
 * Which model a request gets: the one it names (or the default), if it exists (404
 * `model_not_found`) and the key may use it (403 `model_forbidden`).
 */
import { AppError, ErrorCode } from '../errors.js'
import type { Principal } from '../keys/types.js'
import type { ModelRegistry, ServedModel } from './registry.js'

/** True when the key's model allow-list (if any) includes the model. */
export function mayUse(principal: Principal, model: string): boolean {
  return principal.models === null || principal.models.includes(model)
}

export function resolveModel(registry: ModelRegistry, principal: Principal, name?: string): ServedModel {
  const model = name === undefined ? registry.default : registry.get(name)
  if (!model) throw new AppError(ErrorCode.ModelNotFound, `No model named '${name ?? ''}'`)
  if (!mayUse(principal, model.info.name)) throw new AppError(ErrorCode.ModelForbidden, `This API key may not use the model '${model.info.name}'`)
  return model
}
