-- Health of a meshkeeper ServiceMesh (mesh.meshkeeper.io/v1alpha1).
--
-- What meshkeeper writes (docs/control-plane.md and docs/argocd.md of meshkeeper):
-- * the Ready condition summarises every other condition but DataPlaneUpToDate (pods only their owners
--   can restart; it counts only as CanaryRolledBack, a canary meshkeeper rolled back until the spec
--   changes): True only when all of them are True, otherwise False with the reason and message of the
--   first that is not;
-- * Stalled (kstatus) is True while the spec meets a failure that retrying cannot fix (ChartNotFound,
--   InvalidSpec, CanaryRolledBack), and Reconciling (kstatus) while work is under way; pods without a
--   sidecar under STRICT mTLS (PlaintextClients) set Reconciling, with that reason, instead of Stalled
--   while meshkeeper's automatic restarts are restarting workloads;
-- * every condition records, in its observedGeneration, the generation it was computed for;
-- * status.observedGeneration moves only once a generation is fully handled: on success, or on a
--   failure that retrying cannot fix. A failure that is retried (InstallFailed,
--   ChartRepositoryUnreachable) leaves it behind, so a failure reported for the current generation
--   counts even while status.observedGeneration lags;
-- * while the ServiceMesh is being deleted, the finalizer mesh.meshkeeper.io/finalizer holds it until
--   meshkeeper has uninstalled the mesh. The deletion bumps metadata.generation, and meshkeeper then
--   writes Ready only when the uninstall does not go through, False for that generation: with reason
--   UninstallFailed when a step of it failed (the uninstall of a Helm release above all, whose message
--   names the release and the error), and with UninstallBlocked when the control plane is gone but
--   objects refuse to give back the labels and annotations meshkeeper set (an admission webhook or
--   policy denies the change), whose message names them and what to do.
--
-- The script uses only the base library, so it runs in argocd-cm without useOpenLibs. Suspended is
-- never returned (a ServiceMesh cannot be paused), nor Missing (Argo CD reports that itself when the
-- object does not exist). Argo CD 3.6 and later run the check on an object being deleted too and,
-- as it returns a deletionMessage, show the returned status with that message; older versions show
-- Progressing, "Pending deletion", without running it.

-- The finalizer meshkeeper puts on the ServiceMesh, and what it waits for.
local uninstallFinalizer = "mesh.meshkeeper.io/finalizer"

-- The reasons of a False Ready on a ServiceMesh being deleted whose uninstall does not go through: a
-- step of it failed (UninstallFailed), or some objects block it (UninstallBlocked). Each needs a person,
-- as InstallFailed does, and is not shown as an uninstall under way.
local uninstallReasons = {
  UninstallBlocked = true,
  UninstallFailed = true,
}

-- Reasons of a False Ready under which meshkeeper, istiod or the CNI node agent is still on its way:
-- istiod rolling out, the agent's DaemonSet being created or rolled out to every node, the agent
-- waiting for istiod to run the new version before it follows. Any other reason is a failure that
-- needs a person.
local transientReasons = {
  Reconciling = true,
  RollingOut = true,
  DeploymentMissing = true,
  NamespaceTerminating = true,
  IstioCRDsMissing = true,
  DaemonSetMissing = true,
  NodesNotReady = true,
  WaitingForControlPlane = true,
}

-- Reasons of a False Ready that need a person unless meshkeeper clears them itself: pods without a
-- sidecar under STRICT mTLS, whose workloads meshkeeper's automatic restarts restart. meshkeeper says it
-- is at it by setting Reconciling True with Ready's reason for the current generation, instead of
-- Stalled, and kstatus then waits too. The failures meshkeeper retries (InstallFailed,
-- ChartRepositoryUnreachable, IngressWriteRefused, NamespaceWriteRefused, ControllerNotFound) set
-- Reconciling as well, but a sync must not wait on them as if they were progress: they stay Degraded.
local restartingReasons = {
  PlaintextClients = true,
}

local function number(value)
  if type(value) == "number" then
    return value
  end
  return 0
end

local function findCondition(status, conditionType)
  if type(status.conditions) ~= "table" then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if type(condition) == "table" and condition.type == conditionType then
      return condition
    end
  end
  return nil
end

-- restarting tells whether meshkeeper is clearing the reason of ready, a False Ready, for the current
-- generation (restartingReasons).
local function restarting(status, ready, generation)
  if not restartingReasons[ready.reason] then
    return false
  end
  local reconciling = findCondition(status, "Reconciling")
  return reconciling ~= nil and reconciling.status == "True" and reconciling.reason == ready.reason and
    number(reconciling.observedGeneration) >= generation
end

local function conditionMessage(condition)
  if type(condition.message) == "string" and condition.message ~= "" then
    return condition.message
  end
  if type(condition.reason) == "string" and condition.reason ~= "" then
    return condition.reason
  end
  return tostring(condition.type) .. " is " .. tostring(condition.status)
end

-- deletion is the health of a ServiceMesh being deleted: Progressing, with what its finalizers wait for;
-- or Degraded, with Ready's message, while meshkeeper's uninstall does not go through (Ready False with
-- UninstallFailed or UninstallBlocked for the current generation).
local function deletion(metadata, spec, status, generation)
  local ours = false
  local others = ""
  if type(metadata.finalizers) == "table" then
    for _, finalizer in ipairs(metadata.finalizers) do
      if finalizer == uninstallFinalizer then
        ours = true
      elseif type(finalizer) == "string" then
        if others ~= "" then
          others = others .. ", "
        end
        others = others .. finalizer
      end
    end
  end
  local namespace = "istio-system"
  if type(spec) == "table" and type(spec.namespace) == "string" and spec.namespace ~= "" then
    namespace = spec.namespace
  end
  -- status.cni.namespace is where the CNI agent's release is installed, empty when it is not.
  local cniNamespace = ""
  if type(status) == "table" and type(status.cni) == "table" and type(status.cni.namespace) == "string" then
    cniNamespace = status.cni.namespace
  end
  local releases = "the istiod (and any istiod-<revision>) and istio-base releases from " .. namespace
  if cniNamespace == namespace then
    releases = "the istio-cni, istiod (and any istiod-<revision>) and istio-base releases from " .. namespace
  elseif cniNamespace ~= "" then
    releases = "the istio-cni release from " .. cniNamespace .. ", the istiod (and any istiod-<revision>) " ..
      "and istio-base releases from " .. namespace
  end
  -- meshkeeper writes Ready during a deletion only when the uninstall fails or is blocked. Once its
  -- finalizer is gone that Ready is history: what is left waits for the other finalizers.
  local ready = nil
  if type(status) == "table" then
    ready = findCondition(status, "Ready")
  end
  local blocked = ours and ready ~= nil and ready.status == "False" and uninstallReasons[ready.reason] and
    number(ready.observedGeneration) >= generation
  local health = "Progressing"
  local message = "Pending deletion"
  if blocked then
    health = "Degraded"
    message = conditionMessage(ready)
    if others ~= "" then
      message = message .. "; other finalizers: " .. others
    end
  elseif ours then
    message = "Uninstalling the mesh: the finalizer " .. uninstallFinalizer .. " waits for meshkeeper to " ..
      "remove the labels and annotations it set, uninstall " .. releases .. " (the Istio CRDs stay) " ..
      "and delete their webhooks. meshkeeper must be running; a " ..
      "failing step is retried and shown in a Warning Event"
    if others ~= "" then
      message = message .. "; other finalizers: " .. others
    end
  elseif others ~= "" then
    message = "Pending deletion; meshkeeper has uninstalled the mesh, blocked by finalizers: " .. others
  end
  -- Argo CD 3.6 shows the status of an object being deleted, with deletionMessage, only when that is set.
  return {status = health, message = message, deletionMessage = message}
end

local hs = {}
local generation = 0
if type(obj.metadata) == "table" then
  generation = number(obj.metadata.generation)
  if obj.metadata.deletionTimestamp ~= nil then
    return deletion(obj.metadata, obj.spec, obj.status, generation)
  end
end

if type(obj.status) ~= "table" then
  hs.status = "Progressing"
  hs.message = "Waiting for meshkeeper to observe the ServiceMesh"
  return hs
end

local ready = findCondition(obj.status, "Ready")

-- A failure of the current spec that retrying cannot fix.
local stalled = findCondition(obj.status, "Stalled")
if stalled ~= nil and stalled.status == "True" and number(stalled.observedGeneration) >= generation then
  hs.status = "Degraded"
  hs.message = conditionMessage(stalled)
  return hs
end

-- A verdict on the current spec: a failure is Degraded, a rollout or meshkeeper's restarts Progressing.
if ready ~= nil and ready.status == "False" and number(ready.observedGeneration) >= generation then
  if transientReasons[ready.reason] or restarting(obj.status, ready, generation) then
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
