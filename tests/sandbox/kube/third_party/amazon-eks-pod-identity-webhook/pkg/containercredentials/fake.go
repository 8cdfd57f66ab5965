/*
  Copyright 2023 Amazon.com, Inc. or its affiliates. All Rights Reserved.

  Licensed under the Apache License, Version 2.0 (the "License").
  You may not use this file except in compliance with the License.
  A copy of the License is located at

      http://www.apache.org/licenses/LICENSE-2.0

  or in the "license" file accompanying this file. This file is distributed
  on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either
  express or implied. See the License for the specific language governing
  permissions and limitations under the License.
*/

package containercredentials

type FakeConfig struct {
	Audience   string
	MountPath  string
	VolumeName string
	TokenPath  string
	FullUri    string
	Identities map[Identity]bool
}

func (f *FakeConfig) Get(namespace string, serviceAccount string) *PatchConfig {
	if f.Identities == nil {
		return nil
	}

	key := Identity{
		Namespace:      namespace,
		ServiceAccount: serviceAccount,
	}
	if _, ok := f.Identities[key]; ok {
		return &PatchConfig{
			Audience:   f.Audience,
			MountPath:  f.MountPath,
			VolumeName: f.VolumeName,
			TokenPath:  f.TokenPath,
			FullUri:    f.FullUri,
		}
	}

	return nil
}
