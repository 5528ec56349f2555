-- Health of a meshkeeper ServiceMesh (mesh.meshkeeper.io/v1alpha1).
--
-- What meshkeeper writes (docs/control-plane.md and docs/argocd.md of meshkeeper):
-- * the Ready condition summarises every other condition but DataPlaneUpToDate (pods only their owners
--   can restart): True only when all of them are True, otherwise False with the reason and message of
--   the first that is not;
-- * every condition records, in its observedGeneration, the generation it was computed for;
-- * status.observedGeneration moves only once a generation is fully handled: on success, or on a
--   failure that retrying cannot fix (ChartNotFound, InvalidSpec). A failure that is retried
--   (InstallFailed, ChartRepositoryUnreachable) leaves it behind, so a failure reported for the
--   current generation counts even while status.observedGeneration lags.
--
-- The script uses only the base library, so it runs in argocd-cm without useOpenLibs. Suspended is
-- never returned (a ServiceMesh cannot be paused), nor Missing (Argo CD reports that itself when the
-- object does not exist), and a ServiceMesh being deleted is reported by Argo CD as "Pending
-- deletion" before this script runs.

-- Reasons of a False Ready under which meshkeeper or istiod is still on its way. Any other reason is
-- a failure that needs a person.
local transientReasons = {
  Reconciling = true,
  RollingOut = true,
  DeploymentMissing = true,
  NamespaceTerminating = true,
  IstioCRDsMissing = true,
}

local function number(value)
  if type(value) == "number" then
    return value
  end
  return 0
end

local function readyCondition(status)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if type(condition) == "table" and condition.type == "Ready" then
      return condition
    end
  end
  return nil
end

local function conditionMessage(condition)
  if type(condition.message) == "string" and condition.message ~= "" then
    return condition.message
  end
  if type(condition.reason) == "string" and condition.reason ~= "" then
    return condition.reason
  end
  return "Ready is " .. tostring(condition.status)
end

local hs = {}
local generation = 0
if type(obj.metadata) == "table" then
  generation = number(obj.metadata.generation)
end

if type(obj.status) ~= "table" then
  hs.status = "Progressing"
  hs.message = "Waiting for meshkeeper to observe the ServiceMesh"
  return hs
end

local ready = readyCondition(obj.status)

-- A verdict on the current spec: a failure is Degraded, a rollout is Progressing.
if ready ~= nil and ready.status == "False" and number(ready.observedGeneration) >= generation then
  if transientReasons[ready.reason] then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = conditionMessage(ready)
  return hs
end

local observed = number(obj.status.observedGeneration)
if observed < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for meshkeeper to observe generation " .. generation ..
    " (status is of generation " .. observed .. ")"
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if number(ready.observedGeneration) < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition of generation " .. generation
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = conditionMessage(ready)
  return hs
end

hs.status = "Progressing"
hs.message = conditionMessage(ready)
return hs
